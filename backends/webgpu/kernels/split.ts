/**
 * Split-K: when a GEMM has too few workgroups to keep a large GPU busy (a
 * batch-1 RepMLP fc3 has a few dozen), the k dimension is divided among
 * more workgroups; a reduce kernel sums the partial results and applies the
 * epilogue. Only GEMMs that stream enough weight bytes for it to pay are
 * split. The reduce kernel renders here too.
 */
import type { GemmSpec, ReduceSpec } from "../spec.ts";
import { chooseTiling } from "./gemm.ts";
import { GEMV_MAX_ROWS } from "./gemv.ts";
import { entry, THREADS } from "./map.ts";
import { type ShaderBuilder, type StorageClass, storeValue, u32 } from "./shader.ts";

/** Workgroups to aim for: two per multiprocessor of a 132-SM GPU. */
export const TARGET_WORKGROUPS = 264;
/** GEMMs with fewer weight bytes than this are not split. */
export const SPLIT_MIN_WEIGHT_BYTES = 4 * 2 ** 20;
/** Each split keeps at least this much of k. */
export const SPLIT_MIN_DEPTH = 128;

/** Workgroups of one GEMM kernel over `gc` groups of `nc` columns. */
export function gemmWorkgroups(m: number, gc: number, nc: number): number {
  if (m <= GEMV_MAX_ROWS) return Math.ceil((gc * nc) / THREADS);
  const tiling = chooseTiling(m, nc);
  return gc * Math.ceil(m / tiling.tm) * Math.ceil(nc / tiling.tn);
}

/** How many k ranges a GEMM with `workgroups` and depth `k` is split into (1: not split). */
export function chooseSplits(workgroups: number, k: number, weightBytes: number): number {
  if (weightBytes < SPLIT_MIN_WEIGHT_BYTES || workgroups * 2 > TARGET_WORKGROUPS) return 1;
  const splits = Math.min(
    Math.ceil(TARGET_WORKGROUPS / workgroups),
    Math.floor(k / SPLIT_MIN_DEPTH),
    16,
  );
  return splits >= 2 ? splits : 1;
}

/**
 * `finish(m, j, g, s, acc)`: stores one GEMM result. Unsplit, it applies the
 * epilogue and stores through the output view; split, it stores the raw
 * sum in the partial buffer [split][m][column].
 */
export function finishFunction(
  spec: GemmSpec,
  shader: ShaderBuilder,
  outClass: StorageClass,
): string {
  const head = [
    "fn finish(m: u32, j: u32, g: u32, s: u32, acc: f32) {",
    `  if (m >= ${u32(spec.m)} || j >= NC) { return; }`,
    "  let n = g * NG + NB + j;",
  ];
  if (spec.splits > 1) {
    const columns = spec.groups * spec.n;
    return [...head, `  out[s * ${u32(spec.m * columns)} + m * ${u32(columns)} + n] = acc;`, "}"]
      .join("\n");
  }
  const value = shader.expr(spec.epilogue, ["m", "n"]);
  return [
    ...head,
    `  out[${shader.offset(spec.out.view)}(m, n)] = ${storeValue(outClass, value)};`,
    "}",
  ].join("\n");
}

/** Depth of each k range of a split GEMM, a multiple of `step`. */
export function splitDepth(spec: GemmSpec, step: number): number {
  return Math.ceil(spec.k / spec.splits / step) * step;
}

/** Renders the reduce kernel: one invocation per output element. */
export function renderReduce(
  spec: ReduceSpec,
  shader: ShaderBuilder,
  outClass: StorageClass,
): { body: string; workgroups: number } {
  const elements = spec.m * spec.columns;
  const workgroups = Math.ceil(elements / THREADS);
  const partial = shader.bind({ kind: "value", id: spec.partial });
  const value = shader.expr(spec.epilogue, ["m", "n"]);
  const sum = Array.from(
    { length: spec.splits },
    (_, s) => `f32(${partial}[${s === 0 ? "i" : `${u32(s * elements)} + i`}])`,
  );
  const body = [
    entry(workgroups),
    `  let i = t * ${u32(THREADS)} + li;`,
    `  if (i >= ${u32(elements)}) { return; }`,
    `  let m = i / ${u32(spec.columns)};`,
    `  let n = i % ${u32(spec.columns)};`,
    `  let acc = ${sum.join(" + ")};`,
    `  out[${shader.offset(spec.out.view)}(m, n)] = ${storeValue(outClass, value)};`,
    "}",
  ].join("\n");
  return { body, workgroups };
}
