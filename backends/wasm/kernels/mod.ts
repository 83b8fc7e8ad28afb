/**
 * The kernel generators, one per kernel kind of the plan. Each turns a
 * kernel into wasm functions (shared microkernels are deduplicated by name)
 * and returns the function `run` calls.
 */
import type { Kernel } from "../../plan/mod.ts";
import type { GenContext } from "./context.ts";
import { emitConv } from "./conv.ts";
import { emitElementwise } from "./elementwise.ts";
import { emitInt8Conv, emitInt8Linear } from "./int8_gemm.ts";
import { emitLinear } from "./linear.ts";
import { emitPool } from "./pool.ts";

export type { GenContext } from "./context.ts";
export { type Variant, VARIANTS } from "./microkernel.ts";
export { int8Unsupported } from "./int8_gemm.ts";

type Generators = {
  readonly [K in Kernel["kind"]]: (kernel: Extract<Kernel, { kind: K }>, ctx: GenContext) => string;
};

/** Kernel kind -> generator. */
export const GENERATORS: Generators = {
  gemm: (kernel, ctx) => {
    const conv = kernel.shape.op === "conv";
    if (kernel.arithmetic === "int8") {
      return conv ? emitInt8Conv(kernel, ctx) : emitInt8Linear(kernel, ctx);
    }
    return conv ? emitConv(kernel, ctx) : emitLinear(kernel, ctx);
  },
  map: emitElementwise,
  pool: emitPool,
};

/** Runs the generator of `kernel`'s kind. */
export function emitKernel(kernel: Kernel, ctx: GenContext): string {
  return (GENERATORS[kernel.kind] as (k: Kernel, c: GenContext) => string)(kernel, ctx);
}
