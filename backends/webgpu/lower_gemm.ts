/**
 * Lowering of linear layers and convolutions. A linear layer is a GEMM over
 * rows = all leading axes; a convolution is an implicit GEMM over rows =
 * (batch, oy, ox), columns = output channels, depth = (channel, ky, kx) of
 * one group, unless it has so few output channels per group that a GEMM tile
 * would be mostly empty (depthwise), where a direct kernel is used. Constant
 * weights are packed, and split into chunks that each fit one binding; each
 * chunk is a kernel writing its own columns of the same output.
 */
import { type Node, sizeOf } from "../../ir/mod.ts";
import {
  type Access,
  contiguous,
  forwardThrough,
  reshapeAccess,
  transposeAccess,
} from "./access.ts";
import { chooseSplits, gemmWorkgroups } from "./kernels/split.ts";
import { elementwiseExpr, type Frame, loadChannel, loadNode } from "./frame.ts";
import type { Group } from "./group.ts";
import type { Lowerer } from "./lower.ts";
import type { ConvGeometry, Expr, GemmSpec, Operand } from "./spec.ts";
import { type GemmChunk, packedAccess } from "./weights.ts";
import { describe } from "./frame.ts";

/** Below this many output channels per group a convolution runs as a direct kernel. */
const DIRECT_CONV_MAX_CHANNELS = 8;

/** The A (or x) operand in `shape` coordinates mapped by `toKernel`, with any prologue. */
function inputExpr(
  lowerer: Lowerer,
  group: Group,
  x: Node,
  toKernel: (access: Access) => Access,
): Expr {
  const prologue = group.prologue;
  if (!prologue) return loadNode(lowerer, { shape: x.type.shape, toKernel }, x);
  const frame: Frame = {
    shape: prologue.node.type.shape,
    toKernel: (access) => toKernel(forwardThrough(prologue.path, access)),
  };
  return elementwiseExpr(lowerer, prologue.node, frame, (input) => loadNode(lowerer, frame, input));
}

/** Chunks and operands of a GEMM weight (logical [groups * n, k]). */
function weightOperands(
  lowerer: Lowerer,
  w: Node,
  n: number,
  k: number,
  groups: number,
): { chunk: GemmChunk; operand: Operand }[] {
  const data = lowerer.weights.constantData(w);
  if (!data) {
    const { ref, access } = lowerer.view(w);
    const operand = { ref, access: reshapeAccess(access, [groups * n, k]) };
    return [{ chunk: { g0: 0, gc: groups, nb: 0, nc: n }, operand }];
  }
  return lowerer.weights.gemmChunks(w, n, k, groups).map((chunk) => ({
    chunk,
    operand: {
      ref: lowerer.weights.gemmChunk(w, data, n, k, chunk),
      access: packedAccess(chunk, k),
    },
  }));
}

function pushGemm(
  lowerer: Lowerer,
  core: Node,
  base: Omit<GemmSpec, "g0" | "gc" | "nb" | "nc" | "w" | "splits">,
  parts: { chunk: GemmChunk; operand: Operand }[],
): void {
  const workgroups = parts.reduce(
    (sum, { chunk }) => sum + gemmWorkgroups(base.m, chunk.gc, chunk.nc),
    0,
  );
  const splits = chooseSplits(workgroups, base.k, base.groups * base.n * base.k * 4);
  const columns = base.groups * base.n;
  const partial = splits > 1 ? lowerer.scratch(core, splits * base.m * columns) : -1;
  parts.forEach(({ chunk, operand }, index) => {
    const label = parts.length > 1
      ? `${base.label} [part ${index + 1}/${parts.length}]`
      : base.label;
    const out = splits > 1 ? { id: partial, access: contiguous([base.m, columns]) } : base.out;
    lowerer.kernels.push({ ...base, ...chunk, w: operand, label, splits, out });
  });
  if (splits > 1) {
    lowerer.kernels.push({
      kind: "reduce",
      label: `${base.label} [sum of ${splits} k-splits]`,
      m: base.m,
      columns,
      splits,
      partial,
      epilogue: base.epilogue,
      out: base.out,
    });
  }
}

/** Lowers a group whose core is a linear layer. */
export function lowerLinear(lowerer: Lowerer, group: Group): void {
  const core = group.core as Node<"linear">;
  const [x, w, b] = core.inputs;
  const groups = core.attrs.groups;
  const kTotal = x.type.shape[x.type.shape.length - 1];
  const nTotal = w.type.shape[0];
  const m = sizeOf(x.type.shape) / kTotal;
  const space = (access: Access) => reshapeAccess(access, [m, nTotal]);
  const a = inputExpr(lowerer, group, x, (access) => reshapeAccess(access, [m, kTotal]));
  let seed: Expr = { kind: "acc" };
  if (b) {
    const frame: Frame = { shape: core.type.shape, toKernel: space };
    const { ref, access } = lowerer.view(b);
    seed = {
      kind: "binary",
      op: "add",
      a: seed,
      b: loadChannel(frame, ref, access, core.type.shape.length - 1),
    };
  }
  const parts = weightOperands(lowerer, w, nTotal / groups, kTotal / groups, groups);
  const { epilogue, out } = lowerer.finish(group, seed, space);
  pushGemm(lowerer, core, {
    kind: "gemm",
    label: describe(core),
    m,
    k: kTotal / groups,
    n: nTotal / groups,
    groups,
    a,
    epilogue,
    out,
  }, parts);
}

/** Lowers a group whose core is a convolution. */
export function lowerConv(lowerer: Lowerer, group: Group): void {
  const core = group.core as Node<"conv2d">;
  const [x, w, b] = core.inputs;
  const [batch, channels, height, width] = x.type.shape;
  const [outChannels, , kh, kw] = w.type.shape;
  const [, , outHeight, outWidth] = core.type.shape;
  const { stride, pads, dilation, groups } = core.attrs;
  const geometry: ConvGeometry = {
    batch,
    channels,
    height,
    width,
    outChannels,
    outHeight,
    outWidth,
    kernel: [kh, kw],
    stride,
    pads,
    dilation,
    groups,
  };
  const og = outChannels / groups;
  const direct = og < DIRECT_CONV_MAX_CHANNELS;
  const m = batch * outHeight * outWidth;
  const space = direct
    ? (access: Access) => reshapeAccess(access, [sizeOf(core.type.shape)])
    : (access: Access) => reshapeAccess(transposeAccess(access, [0, 2, 3, 1]), [m, outChannels]);
  let seed: Expr = { kind: "acc" };
  if (b) {
    const frame: Frame = { shape: core.type.shape, toKernel: space };
    const { ref, access } = lowerer.view(b);
    seed = { kind: "binary", op: "add", a: seed, b: loadChannel(frame, ref, access, 1) };
  }
  const xExpr = inputExpr(lowerer, group, x, (access) => access);
  const label = describe(core);
  if (direct) {
    const wView = lowerer.view(w);
    const { epilogue, out } = lowerer.finish(group, seed, space);
    lowerer.kernels.push({
      kind: "direct_conv",
      label,
      geometry,
      x: xExpr,
      w: wView,
      epilogue,
      out,
    });
    return;
  }
  const k = (channels / groups) * kh * kw;
  const parts = weightOperands(lowerer, w, og, k, groups);
  const { epilogue, out } = lowerer.finish(group, seed, space);
  pushGemm(lowerer, core, {
    kind: "gemm",
    label,
    m,
    k,
    n: og,
    groups,
    a: xExpr,
    conv: geometry,
    epilogue,
    out,
  }, parts);
}
