/**
 * Per-op lowering rules, one table entry per IR op that does work: how the
 * op starts a kernel (its head plan) and, for elementwise ops, the chain
 * steps it contributes when fused into the kernel that produced its input.
 */
import {
  batchnormScaleShift,
  type Node,
  type NodeOf,
  type OpAttrs,
  type OpName,
  sizeOf,
  stridesOf,
} from "../../ir/mod.ts";
import type {
  BinaryFn,
  ChainOp,
  Epilogue,
  GemmWeight,
  Kernel,
  Operand,
  UnaryFn,
  Value,
} from "./schedule.ts";
import { broadcastView, contiguous, partsOf, reshapeView, type View } from "./views.ts";

/** What the lowering offers the rules. */
export interface LowerContext {
  newValue(
    shape: readonly number[],
    home: "weight" | "arena",
    data?: Float32Array,
    name?: string,
  ): Value;
  addKernel(kernel: Kernel): void;
  operand(node: Node): Operand;
  operandAs(node: Node, shape: readonly number[]): Operand;
  materialize(operand: Operand): Value;
}

/** A kernel that is still open to fused elementwise steps. */
export interface GroupPlan {
  readonly kind: "group";
  /** The kernel's index space; epilogue views are over it. */
  readonly indexShape: readonly number[];
  /** The loop split every epilogue view must allow (undefined: any). */
  readonly counts?: readonly number[];
  readonly fusable: boolean;
  readonly ops: readonly ChainOp[];
  finish(epilogue: Epilogue): Kernel;
}

/** How a node starts its kernel; "done" when it was emitted at once. */
export type HeadPlan = GroupPlan | { readonly kind: "done"; readonly value: Value };

/** The lowering rule of op `O`. */
export interface OpLowering<O extends OpName = WorkOp> {
  /** Inputs that may carry the fused value (elementwise ops only). */
  readonly mainInputs: readonly number[];
  /** The chain steps when input `main` is the fused value. */
  readonly chain?: (node: NodeOf<O>, main: number, ctx: LowerContext) => ChainOp[];
  readonly head: (node: NodeOf<O>, ctx: LowerContext) => HeadPlan;
}

/** The ops that compute something (sources and views do not). */
export type WorkOp = Exclude<OpName, "input" | "weight" | "reshape" | "transpose" | "flatten">;

/** Reads a node as a matrix view that kernels can split into [rows, cols]. */
function matrixOperand(ctx: LowerContext, node: Node, shape: readonly number[]): Operand {
  const operand = ctx.operand(node);
  const view = reshapeView(operand.view, shape);
  if (partsOf(view, shape)) return { value: operand.value, view };
  return { value: ctx.materialize(operand), view: contiguous(shape) };
}

/** Reads an NCHW node with one affine stride per axis. */
function imageOperand(ctx: LowerContext, node: Node): Operand {
  const operand = ctx.operand(node);
  const parts = partsOf(operand.view, operand.view.shape);
  if (parts?.every((part) => part.kind === "affine")) return operand;
  return { value: ctx.materialize(operand), view: contiguous(node.type.shape) };
}

function gemmWeight(ctx: LowerContext, node: Node, shape: readonly number[]): GemmWeight {
  if (node.op === "weight") return { kind: "constant", value: ctx.operand(node).value };
  return { kind: "activation", operand: matrixOperand(ctx, node, shape) };
}

/** A 1-D [C] node broadcast along `axis` of `shape`. */
function alongAxis(ctx: LowerContext, node: Node, shape: readonly number[], axis: number): Operand {
  const unit = shape.map((size, a) => (a === axis ? size : 1));
  const operand = ctx.operand(node);
  const view = broadcastView(reshapeView(operand.view, unit), shape);
  if (view) return { value: operand.value, view };
  const value = ctx.materialize(operand);
  return { value, view: broadcastView(contiguous(unit), shape)! };
}

/** A constant [C] vector broadcast along `axis`. */
function constantAlong(
  ctx: LowerContext,
  data: Float32Array,
  shape: readonly number[],
  axis: number,
) {
  const value = ctx.newValue([data.length], "weight", data);
  const dims = shape.map((size, a) => ({ size, stride: a === axis ? 1 : 0 }));
  const view: View = { shape, dims, offset: 0 };
  return { value, view };
}

function batchnormChain(node: Node<"batchnorm">, _main: number, ctx: LowerContext): ChainOp[] {
  const { epsilon, axis } = node.attrs;
  const [, gamma, beta, mean, variance] = node.inputs;
  const shape = node.type.shape;
  if ([gamma, beta, mean, variance].every((param) => param.op === "weight")) {
    const affine = batchnormScaleShift(
      epsilon,
      gamma.data!,
      beta.data!,
      mean.data!,
      variance.data!,
    );
    const scale = Float32Array.from(affine.scale), shift = Float32Array.from(affine.shift);
    return [
      { kind: "binary", fn: "mul", operand: constantAlong(ctx, scale, shape, axis), swap: false },
      { kind: "binary", fn: "add", operand: constantAlong(ctx, shift, shape, axis), swap: false },
    ];
  }
  const along = (param: Node) => alongAxis(ctx, param, shape, axis);
  return [{
    kind: "batchnorm",
    epsilon,
    gamma: along(gamma),
    beta: along(beta),
    mean: along(mean),
    variance: along(variance),
  }];
}

/** Elementwise ops start a kernel that loads their main input and applies their chain. */
function elementwise<O extends WorkOp>(
  chain: OpLowering<O>["chain"] & object,
  mainInputs: number[],
): OpLowering<O> {
  return {
    mainInputs,
    chain,
    head(node, ctx) {
      const source = ctx.operandAs(node.inputs[0], node.type.shape);
      const label = `${node.op} [${node.type.shape}]`;
      return {
        kind: "group",
        indexShape: node.type.shape,
        fusable: true,
        ops: chain(node, 0, ctx),
        finish: (epilogue) => ({
          kind: "elementwise",
          label,
          shape: node.type.shape,
          source,
          epilogue,
        }),
      };
    },
  };
}

const unary = (fn: UnaryFn) => elementwise(() => [{ kind: "unary", fn }], [0]);
const binary = (fn: BinaryFn) =>
  elementwise((node, main, ctx) => [{
    kind: "binary",
    fn,
    operand: ctx.operandAs(node.inputs[1 - main], node.type.shape),
    swap: main === 1,
  }], [0, 1]);

function linearHead(node: Node<"linear">, ctx: LowerContext): HeadPlan {
  const [xNode, wNode, bNode] = node.inputs;
  const groups = node.attrs.groups;
  const k = xNode.type.shape[xNode.type.shape.length - 1];
  const n = node.type.shape[node.type.shape.length - 1];
  const m = sizeOf(xNode.type.shape) / k;
  const x = matrixOperand(ctx, xNode, [m, k]);
  const weight = gemmWeight(ctx, wNode, [n, k / groups]);
  const ops: ChainOp[] = bNode
    ? [{ kind: "binary", fn: "add", operand: ctx.operandAs(bNode, [m, n]), swap: false }]
    : [];
  const label = `linear ${m}x${k}->${n}${groups > 1 ? ` groups=${groups}` : ""}`;
  return {
    kind: "group",
    indexShape: [m, n],
    counts: [m, n],
    fusable: true,
    ops,
    finish: (epilogue) => ({
      kind: "linear",
      label,
      x,
      weight,
      groups,
      m,
      k: k / groups,
      n: n / groups,
      epilogue,
    }),
  };
}

function convHead(node: Node<"conv2d">, ctx: LowerContext): HeadPlan {
  const [xNode, wNode, bNode] = node.inputs;
  const { stride, pads, dilation, groups } = node.attrs;
  const [batch, inC, inH, inW] = xNode.type.shape;
  const [, outC, outH, outW] = node.type.shape;
  const [, cg, kh, kw] = wNode.type.shape;
  const indexShape = [batch, outC, outH * outW];
  const x = imageOperand(ctx, xNode);
  const weight = gemmWeight(ctx, wNode, [outC, cg * kh * kw]);
  const ops: ChainOp[] = bNode
    ? [{ kind: "binary", fn: "add", operand: alongAxis(ctx, bNode, indexShape, 1), swap: false }]
    : [];
  const label = `conv ${kh}x${kw} ${inC}->${outC} @${inH}x${inW}` +
    `${stride[0] > 1 || stride[1] > 1 ? ` /${stride[0]}` : ""}${groups > 1 ? ` g${groups}` : ""}`;
  return {
    kind: "group",
    indexShape,
    counts: indexShape,
    fusable: true,
    ops,
    finish: (epilogue) => ({
      kind: "conv",
      label,
      x,
      weight,
      groups,
      batch,
      inShape: [batch, inC, inH, inW],
      outShape: [batch, outC, outH, outW],
      kernel: [kh, kw],
      stride,
      pads,
      dilation,
      epilogue,
    }),
  };
}

function poolHead<O extends "avgpool" | "maxpool" | "global_avgpool">(
  mode: "avg" | "max" | "global",
): OpLowering<O> {
  return {
    mainInputs: [],
    head(node, ctx) {
      const x = imageOperand(ctx, node.inputs[0]);
      const out = ctx.newValue(node.type.shape, "arena");
      const inShape = node.inputs[0].type.shape as [number, number, number, number];
      const attrs: Partial<OpAttrs["avgpool"]> = mode === "global"
        ? { kernel: [inShape[2], inShape[3]], stride: [1, 1], pads: [0, 0, 0, 0] }
        : node.attrs as OpAttrs["avgpool" | "maxpool"];
      ctx.addKernel({
        kind: "pool",
        label: `${mode}pool [${inShape}]`,
        mode,
        x,
        out,
        inShape,
        outShape: node.type.shape as [number, number, number, number],
        kernel: attrs.kernel as [number, number],
        stride: attrs.stride as [number, number],
        pads: attrs.pads as [number, number, number, number],
        countIncludePad: attrs.countIncludePad ?? true,
      });
      return { kind: "done", value: out };
    },
  };
}

function concatHead(node: Node<"concat">, ctx: LowerContext): HeadPlan {
  const axis = node.attrs.axis;
  const out = ctx.newValue(node.type.shape, "arena");
  const strides = stridesOf(node.type.shape);
  let start = 0;
  for (const input of node.inputs) {
    const shape = input.type.shape;
    const view: View = {
      shape,
      offset: start * strides[axis],
      dims: shape.map((size, a) => ({ size, stride: strides[a] })),
    };
    ctx.addKernel({
      kind: "elementwise",
      label: `concat slice [${shape}]`,
      shape,
      source: ctx.operand(input),
      epilogue: { ops: [], out: { value: out, view } },
    });
    start += shape[axis];
  }
  return { kind: "done", value: out };
}

/** The lowering rule of every op that does work. */
export const OP_LOWERING: { readonly [O in WorkOp]: OpLowering<O> } = {
  conv2d: { mainInputs: [], head: convHead },
  linear: { mainInputs: [], head: linearHead },
  batchnorm: elementwise(batchnormChain, [0]),
  concat: { mainInputs: [], head: concatHead },
  add: binary("add"),
  sub: binary("sub"),
  mul: binary("mul"),
  div: binary("div"),
  relu: unary("relu"),
  sigmoid: unary("sigmoid"),
  gelu: unary("gelu"),
  erf: unary("erf"),
  avgpool: poolHead("avg"),
  maxpool: poolHead("max"),
  global_avgpool: poolHead("global"),
};

/**
 * The lowering rule of `node`'s op, which must do work. One cast, since
 * TypeScript cannot correlate a table lookup with its key.
 */
export function loweringOf(node: Node): OpLowering {
  const rule = OP_LOWERING[node.op as WorkOp] as OpLowering | undefined;
  if (!rule) throw new Error(`wasm lowering: ${node.op} computes nothing`);
  return rule;
}
