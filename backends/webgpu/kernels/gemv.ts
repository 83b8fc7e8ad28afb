/**
 * GEMM for few rows (at most GEMV_MAX_ROWS): one invocation per output column
 * of one group, all rows accumulated in registers, no workgroup memory and no
 * barriers. Each weight is read once, by adjacent invocations reading
 * adjacent columns of the packed [group][k][column] layout; the A row values
 * are the same for every invocation. This serves the global perceptrons
 * (one row per image) and batch-1 fc3 layers with few partitions.
 */
import type { GemmSpec } from "../spec.ts";
import { loadA } from "./gemm.ts";
import { entry, THREADS } from "./map.ts";
import { type ShaderBuilder, type StorageClass, u32 } from "./shader.ts";
import { finishFunction, splitDepth } from "./split.ts";

/** GEMMs with at most this many rows use this kernel. */
export const GEMV_MAX_ROWS = 16;

/** Renders a few-row GEMM; returns its body and workgroup count. */
export function renderGemv(
  spec: GemmSpec,
  shader: ShaderBuilder,
  outClass: StorageClass,
): { body: string; workgroups: number } {
  const columns = spec.gc * spec.nc;
  const workgroups = Math.ceil((spec.splits * columns) / THREADS);
  shader.helper(loadA(spec, shader));
  const weight = shader.load(spec.w.ref, spec.w.view, ["(g - G0) * NC + j", "k"]);
  shader.helper(finishFunction(spec, shader, outClass));
  const rows = Array.from({ length: spec.m }, (_, r) => r);
  const body = [
    ...[["K", spec.k], ["NG", spec.n], ["G0", spec.g0], ["NB", spec.nb], ["NC", spec.nc], [
      "KS",
      splitDepth(spec, 1),
    ]].map(([name, value]) => `const ${name}: u32 = ${u32(value as number)};`),
    entry(workgroups),
    `  let u = t * ${u32(THREADS)} + li;`,
    `  if (u >= ${u32(spec.splits * columns)}) { return; }`,
    `  let s = u / ${u32(columns)};`,
    `  let column = u % ${u32(columns)};`,
    "  let g = G0 + column / NC;",
    "  let j = column % NC;",
    "  let kb = s * KS;",
    "  let ke = min(kb + KS, K);",
    ...rows.map((r) => `  var acc${r} = 0.0;`),
    "  for (var k = kb; k < ke; k = k + 1u) {",
    `    let w = ${weight};`,
    ...rows.map((r) => `    acc${r} = fma(load_a(${u32(r)}, g * K + k), w, acc${r});`),
    "  }",
    ...rows.map((r) => `  finish(${u32(r)}, j, g, s, acc${r});`),
    "}",
  ].join("\n");
  return { body, workgroups };
}
