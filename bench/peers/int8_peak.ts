/**
 * The machine's single-thread wasm int8 ceiling, measured the way
 * roofline.ts measures the f32 one: refold's own int8 microkernel (6x8 with
 * i32x4.relaxed_dot_i8x16_i7x16_add_s, or the 2x8 plain-SIMD i32x4.dot_i16x8_s
 * one) on operands that stay in L1, called back to back. One multiply-add
 * counts as 2 ops, as one FMA counts as 2 FLOPs.
 */
import { assemble } from "../../backends/wasm/assemble.ts";
import {
  int8KernelName,
  int8Microkernel,
  int8Rows,
} from "../../backends/wasm/kernels/int8_microkernel.ts";
import type { Variant } from "../../backends/wasm/kernels/microkernel.ts";
import { ModuleBuilder } from "../../backends/wasm/wat.ts";
import { median } from "./timing.ts";

/** GOP/s of the int8 microkernel of `variant` on L1-resident operands (k = 256). */
export async function measureInt8Peak(variant: Variant, rounds = 9): Promise<number> {
  const k = 256, calls = 8000, rows = int8Rows(variant);
  const spec = { rows, rowBytes: k, activations: "s" as const };
  const mod = new ModuleBuilder(2);
  mod.add(int8Microkernel(variant, spec));
  const text = mod.print().replace(
    /\)\n$/,
    `(func (export "bench") (local $i i32)
       (loop $l
         (call $${
      int8KernelName(variant, spec)
    } (i32.const 4096) (i32.const 16384) (i32.const 32768) (i32.const ${k / 4}) (i32.const 64))
         (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const ${calls})))))
    )\n`,
  );
  const bytes = assemble(text, { optimize: false }) as Uint8Array<ArrayBuffer>;
  const { exports } = await WebAssembly.instantiate(await WebAssembly.compile(bytes));
  const bench = exports.bench as () => void;
  bench();
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    bench();
    times.push(performance.now() - start);
  }
  return (2 * rows * 8 * k * calls) / median(times) / 1e6;
}
