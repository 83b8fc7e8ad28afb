/**
 * Elementwise maps: one invocation per output element, the whole computation
 * is the kernel's expression over loads in flat output coordinates. Copies
 * (materialized movement, concat parts, graph outputs that are views) are
 * maps whose expression is a single load.
 */
import type { MapSpec } from "../spec.ts";
import { type ShaderBuilder, type StorageClass, storeValue, u32 } from "./shader.ts";

/** Invocations per workgroup of the one-element-per-invocation kernels. */
export const THREADS = 256;

/** The kernel entry's first lines: a linear workgroup index `t`, and an early exit past `total`. */
export function entry(total: number, workgroupSize = `${THREADS}`): string {
  return [
    `@compute @workgroup_size(${workgroupSize})`,
    "fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nw: vec3u,",
    "        @builtin(local_invocation_index) li: u32) {",
    "  let t = base + wid.x + nw.x * (wid.y + nw.y * wid.z);",
    `  if (t >= ${u32(total)}) { return; }`,
  ].join("\n");
}

/** Renders a map kernel; returns its body and workgroup count. */
export function renderMap(
  spec: MapSpec,
  shader: ShaderBuilder,
  outClass: StorageClass,
): { body: string; workgroups: number } {
  const workgroups = Math.ceil(spec.elements / THREADS);
  const value = shader.expr(spec.epilogue, ["i"]);
  const store = shader.offset(spec.out.view);
  const body = [
    entry(workgroups),
    `  let i = t * ${u32(THREADS)} + li;`,
    `  if (i >= ${u32(spec.elements)}) { return; }`,
    `  out[${store}(i)] = ${storeValue(outClass, value)};`,
    "}",
  ].join("\n");
  return { body, workgroups };
}
