/**
 * Pooling, one output element per invocation: windowed average (with or
 * without padded cells in the divisor, as the reference does) and maximum,
 * where padding never wins. Global average pooling is a window over the
 * whole plane.
 */
import type { PoolSpec } from "../spec.ts";
import { entry, THREADS } from "./map.ts";
import { type ShaderBuilder, type StorageClass, storeValue, u32 } from "./shader.ts";

/** Renders a pooling kernel; returns its body and workgroup count. */
export function renderPool(
  spec: PoolSpec,
  shader: ShaderBuilder,
  outClass: StorageClass,
): { body: string; workgroups: number } {
  const { batch: n, channels: c, height: h, width: w, outHeight: oh, outWidth: ow } = spec.geometry;
  const elements = n * c * oh * ow;
  const workgroups = Math.ceil(elements / THREADS);
  const { kernel: [kh, kw], stride: [sh, sw], pads: [pt, pl, pb, pr] } = spec.geometry.window;
  const x = shader.expr(spec.x, ["b", "ch", "u32(iy)", "u32(ix)"]);
  const max = spec.mode === "max";
  const divisor = spec.countIncludePad
    ? `f32((min(y0 + ${kh}, ${h + pb}) - y0) * (min(x0 + ${kw}, ${w + pr}) - x0))`
    : "f32(count)";
  const value = shader.expr(spec.epilogue, ["i"], max ? "acc" : `(acc / ${divisor})`);
  const body = [
    entry(workgroups),
    `  let i = t * ${u32(THREADS)} + li;`,
    `  if (i >= ${u32(elements)}) { return; }`,
    `  let ox = i % ${u32(ow)};`,
    `  let oy = (i / ${u32(ow)}) % ${u32(oh)};`,
    `  let ch = (i / ${u32(ow * oh)}) % ${u32(c)};`,
    `  let b = i / ${u32(ow * oh * c)};`,
    `  let y0 = i32(oy * ${u32(sh)}) - ${pt};`,
    `  let x0 = i32(ox * ${u32(sw)}) - ${pl};`,
    // -inf is not a WGSL literal; bitcast the f32 bit pattern.
    `  var acc = ${max ? "bitcast<f32>(0xff800000u)" : "0.0"};`,
    "  var count = 0u;",
    `  for (var iy = max(y0, 0); iy < min(y0 + ${kh}, ${h}); iy = iy + 1) {`,
    `    for (var ix = max(x0, 0); ix < min(x0 + ${kw}, ${w}); ix = ix + 1) {`,
    `      ${max ? `acc = max(acc, ${x});` : `acc = acc + ${x};`}`,
    "      count = count + 1u;",
    "    }",
    "  }",
    `  out[${shader.offset(spec.out.view)}(i)] = ${storeValue(outClass, value)};`,
    "}",
  ].join("\n");
  return { body, workgroups };
}
