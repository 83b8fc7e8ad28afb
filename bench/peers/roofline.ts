/**
 * The machine's single-thread wasm ceilings, measured here, and the roofline
 * of a graph under them.
 *
 * - Peak: refold's own GEMM microkernel (6x8 with relaxed-simd FMA, or the
 *   5x8 plain-SIMD one) on panels that stay in L1, called back to back.
 * - Bandwidth: four f32x4 accumulators summing a 192 MiB buffer (beyond
 *   every cache), the best a wasm loop streams memory.
 * - Roofline of a graph: for every node that computes, the larger of its
 *   FLOPs at peak and its bytes (weights, inputs, output) at bandwidth,
 *   summed. Movement ops cost nothing (refold folds them into views).
 */
import { type Graph, isView, OPS, sizeOf, topoOrder } from "../../ir/mod.ts";
import { assemble } from "../../backends/wasm/assemble.ts";
import {
  microkernel,
  microkernelName,
  type Variant,
} from "../../backends/wasm/kernels/microkernel.ts";
import { ModuleBuilder } from "../../backends/wasm/wat.ts";
import { median } from "./timing.ts";

/** Measured single-thread ceilings. */
export interface Ceilings {
  /** GFLOP/s. */
  readonly peak: number;
  /** GB/s. */
  readonly bandwidth: number;
}

async function instantiate(wat: string): Promise<WebAssembly.Exports> {
  const bytes = assemble(wat, { optimize: false }) as Uint8Array<ArrayBuffer>;
  return (await WebAssembly.instantiate(await WebAssembly.compile(bytes))).exports;
}

/** GFLOP/s of the microkernel of `variant` on L1-resident panels. */
export async function measurePeak(variant: Variant, rounds = 9): Promise<number> {
  const k = 256, calls = 4000, rows = variant.mr;
  const mod = new ModuleBuilder(2);
  const spec = { rows, rowBytes: 4, aStep: rows * 4, bStep: 32, shifts: [0] };
  mod.add(microkernel(variant, spec));
  const text = mod.print().replace(
    /\)\n$/,
    `(func (export "bench") (local $i i32)
       (loop $l
         (call $${
      microkernelName(spec)
    } (i32.const 4096) (i32.const 32768) (i32.const ${k}) (i32.const 64))
         (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const ${calls})))))
    )\n`,
  );
  const exports = await instantiate(text);
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

/** GB/s of a streaming sum over a buffer larger than the caches. */
export async function measureBandwidth(rounds = 7): Promise<number> {
  const bytes = 192 << 20;
  const exports = await instantiate(`(module (memory (export "memory") ${bytes / 65536 + 1})
    (func (export "sum") (param $p i32) (param $end i32) (result f32)
      (local $a v128) (local $b v128) (local $c v128) (local $d v128)
      (loop $l
        (local.set $a (f32x4.add (local.get $a) (v128.load (local.get $p))))
        (local.set $b (f32x4.add (local.get $b) (v128.load offset=16 (local.get $p))))
        (local.set $c (f32x4.add (local.get $c) (v128.load offset=32 (local.get $p))))
        (local.set $d (f32x4.add (local.get $d) (v128.load offset=48 (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (br_if $l (i32.lt_u (local.get $p) (local.get $end))))
      (f32x4.extract_lane 0 (f32x4.add (f32x4.add (local.get $a) (local.get $b))
        (f32x4.add (local.get $c) (local.get $d))))))`);
  new Float32Array((exports.memory as WebAssembly.Memory).buffer).fill(1);
  const sum = exports.sum as (p: number, end: number) => number;
  sum(0, bytes);
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    sum(0, bytes);
    times.push(performance.now() - start);
  }
  return bytes / median(times) / 1e6;
}

/** FLOPs and the roofline time (ms) of a graph under `ceilings`. */
export function roofline(graph: Graph, ceilings: Ceilings): { flops: number; ms: number } {
  let flops = 0, ms = 0;
  for (const node of topoOrder(graph)) {
    if (node.op === "input" || node.op === "weight" || isView(node)) continue;
    const types = node.inputs.map((input) => input.type);
    const nodeFlops = OPS[node.op].flops(node.attrs as never, types, node.type.shape);
    const bytes = 4 * (types.reduce((a, t) => a + sizeOf(t.shape), 0) + sizeOf(node.type.shape));
    flops += nodeFlops;
    ms += Math.max(nodeFlops / ceilings.peak / 1e6, bytes / ceilings.bandwidth / 1e6);
  }
  return { flops, ms };
}
