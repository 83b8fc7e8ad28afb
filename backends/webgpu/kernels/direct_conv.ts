/**
 * Direct convolution, one output element per invocation: for depthwise and
 * other convolutions with few output channels per group, where a GEMM tile
 * over output channels would be mostly empty.
 */
import type { DirectConvSpec } from "../spec.ts";
import { entry, THREADS } from "./map.ts";
import { type ShaderBuilder, type StorageClass, storeValue, u32 } from "./shader.ts";

/** Renders a direct convolution; returns its body and workgroup count. */
export function renderDirectConv(
  spec: DirectConvSpec,
  shader: ShaderBuilder,
  outClass: StorageClass,
): { body: string; workgroups: number } {
  const g = spec.geometry;
  const elements = g.batch * g.outChannels * g.outHeight * g.outWidth;
  const workgroups = Math.ceil(elements / THREADS);
  const cg = g.channels / g.groups, og = g.outChannels / g.groups;
  const { kernel: [kh, kw], stride, dilation, pads } = g.window;
  const x = shader.expr(spec.x, ["b", "g * " + u32(cg) + " + ci", "u32(iy)", "u32(ix)"]);
  const w = shader.load(spec.w.ref, spec.w.view, ["o", "ci", "ky", "kx"]);
  const value = shader.expr(spec.epilogue, ["i"]);
  const body = [
    entry(workgroups),
    `  let i = t * ${u32(THREADS)} + li;`,
    `  if (i >= ${u32(elements)}) { return; }`,
    `  let ox = i % ${u32(g.outWidth)};`,
    `  let oy = (i / ${u32(g.outWidth)}) % ${u32(g.outHeight)};`,
    `  let o = (i / ${u32(g.outWidth * g.outHeight)}) % ${u32(g.outChannels)};`,
    `  let b = i / ${u32(g.outWidth * g.outHeight * g.outChannels)};`,
    `  let g = o / ${u32(og)};`,
    "  var acc = 0.0;",
    `  for (var ci = 0u; ci < ${u32(cg)}; ci = ci + 1u) {`,
    `    for (var ky = 0u; ky < ${u32(kh)}; ky = ky + 1u) {`,
    `      let iy = i32(oy * ${u32(stride[0])} + ky * ${u32(dilation[0])}) - ${pads[0]};`,
    `      if (iy < 0 || iy >= ${g.height}) { continue; }`,
    `      for (var kx = 0u; kx < ${u32(kw)}; kx = kx + 1u) {`,
    `        let ix = i32(ox * ${u32(stride[1])} + kx * ${u32(dilation[1])}) - ${pads[1]};`,
    `        if (ix < 0 || ix >= ${g.width}) { continue; }`,
    `        acc = fma(${x}, ${w}, acc);`,
    "      }",
    "    }",
    "  }",
    `  out[${shader.offset(spec.out.view)}(i)] = ${storeValue(outClass, value)};`,
    "}",
  ].join("\n");
  return { body, workgroups };
}
