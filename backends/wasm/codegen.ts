/**
 * One module variant (relaxed-simd or plain SIMD) of a schedule: generates
 * every kernel twice, first to register what it needs in memory, then, once
 * the memory is laid out, with the real addresses. Running the same
 * generator for both passes keeps sizes and code in agreement by
 * construction.
 */
import { RefoldError } from "../../ir/mod.ts";
import { emitKernel, type Variant } from "./kernels/mod.ts";
import { Resources } from "./resources.ts";
import type { Schedule } from "./schedule.ts";
import { FuncBuilder, ModuleBuilder, sx } from "./wat.ts";

/** A variant's WAT text, its memory layout and per-kernel function names. */
export interface VariantCode {
  readonly variant: Variant;
  readonly wat: string;
  readonly res: Resources;
  readonly pages: number;
  readonly functions: readonly string[];
}

const PAGE = 65536;
const MAX_PAGES = 65536;

function generate(schedule: Schedule, variant: Variant, res: Resources, pages: number) {
  const mod = new ModuleBuilder(pages);
  const run = new FuncBuilder("run", "run");
  for (const { value } of [...schedule.inputs, ...schedule.outputs]) res.value(value);
  const functions = schedule.kernels.map((kernel, index) => {
    const name = emitKernel(kernel, { res, variant, mod, index });
    run.emit(sx("call", `$${name}`));
    return name;
  });
  mod.add(run);
  return { mod, functions };
}

/** Generates the module text of `variant` for `schedule`. */
export function generateVariant(schedule: Schedule, variant: Variant): VariantCode {
  const res = new Resources();
  generate(schedule, variant, res, 1);
  res.layout(schedule);
  const pages = Math.max(1, Math.ceil(res.size / PAGE));
  if (pages > MAX_PAGES) {
    throw new RefoldError(
      `wasm backend: graph "${schedule.name}" needs ${Math.ceil(res.size / 2 ** 20)} MiB of ` +
        `linear memory (weights and activations); wasm32 allows 4096 MiB`,
    );
  }
  const { mod, functions } = generate(schedule, variant, res, pages);
  return { variant, wat: mod.print(), res, pages, functions };
}
