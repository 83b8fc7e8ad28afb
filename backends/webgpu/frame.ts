/**
 * Frames: the coordinates an elementwise expression is written in, and how
 * an access in those coordinates becomes one in the kernel's. Loads of
 * operands broadcast to the frame's shape first (NumPy rules), per-channel
 * parameters (bias, BatchNorm) broadcast along their channel axis.
 */
import { describeNode, type Node, RefoldError } from "../../ir/mod.ts";
import { type Access, broadcastAccess, reshapeAccess } from "./access.ts";
import type { Expr, Ref, UnaryOp } from "./spec.ts";
import type { WeightTable } from "./weights.ts";

/** An expression's coordinates: a logical shape and the map into kernel coordinates. */
export interface Frame {
  readonly shape: readonly number[];
  readonly toKernel: (access: Access) => Access;
}

/** What a frame needs from the lowering. */
export interface ValueSource {
  readonly weights: WeightTable;
  view(node: Node): { ref: Ref; access: Access };
}

/** A node's description for labels and errors, with model names JSON-escaped. */
export function describe(node: Node): string {
  return describeNode(node);
}

/** A load of `node`, broadcast to the frame's shape. */
export function loadNode(source: ValueSource, frame: Frame, node: Node): Expr {
  const { ref, access } = source.view(node);
  return { kind: "load", ref, access: frame.toKernel(broadcastAccess(access, frame.shape)) };
}

/** A load of a [C] vector along `axis` of the frame's shape. */
export function loadChannel(
  frame: Frame,
  ref: Ref,
  access: Access,
  axis: number,
): Expr {
  const shape = frame.shape.map((size, i) => (i === axis ? size : 1));
  const along = broadcastAccess(reshapeAccess(access, shape), frame.shape);
  return { kind: "load", ref, access: frame.toKernel(along) };
}

const UNARY: Readonly<Record<string, UnaryOp>> = {
  relu: "relu",
  sigmoid: "sigmoid",
  gelu: "gelu",
  erf: "erf",
};

/**
 * The expression of an elementwise node in `frame`, given its operands'
 * expressions. BatchNorm with constant parameters becomes x * scale + shift
 * with scale and shift computed here in float64.
 */
export function elementwiseExpr(
  source: ValueSource,
  node: Node,
  frame: Frame,
  operand: (input: Node) => Expr,
): Expr {
  const [first, second] = node.inputs;
  if (node.op in UNARY) return { kind: "unary", op: UNARY[node.op], x: operand(first) };
  if (node.op === "add" || node.op === "sub" || node.op === "mul" || node.op === "div") {
    return { kind: "binary", op: node.op, a: operand(first), b: operand(second) };
  }
  if (node.op === "batchnorm") {
    const { epsilon, axis } = node.attrs;
    const x = operand(first);
    const folded = source.weights.batchnormScaleShift(node);
    if (folded) {
      const scale = loadChannel(frame, folded.scale, folded.access, axis);
      const shift = loadChannel(frame, folded.shift, folded.access, axis);
      return add(mul(x, scale), shift);
    }
    const [gamma, beta, mean, variance] = node.inputs.slice(1).map((param) => {
      const { ref, access } = source.view(param);
      return loadChannel(frame, ref, access, axis);
    });
    const inv: Expr = {
      kind: "unary",
      op: "sqrt",
      x: add(variance, { kind: "const", value: epsilon }),
    };
    return add(mul({ kind: "binary", op: "sub", a: x, b: mean }, div(gamma, inv)), beta);
  }
  throw new RefoldError(`webgpu: ${describe(node)} is not elementwise`);
}

function add(a: Expr, b: Expr): Expr {
  return { kind: "binary", op: "add", a, b };
}

function mul(a: Expr, b: Expr): Expr {
  return { kind: "binary", op: "mul", a, b };
}

function div(a: Expr, b: Expr): Expr {
  return { kind: "binary", op: "div", a, b };
}
