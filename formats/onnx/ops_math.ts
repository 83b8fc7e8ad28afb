/**
 * Mappers of elementwise ops. On two constants they fold (ints for shape
 * arithmetic, floats rounded to float32 as ONNX computes them); otherwise they
 * become IR ops. Two exact identities are dropped on the way: torch writes
 * `out = 0; out += branch` as an Add of a 0.0 constant, and the passes should
 * see the branches themselves.
 */
import { broadcastShapes, sameShape, sizeOf } from "../../ir/mod.ts";
import { constValue, type ImportContext, type Value } from "./context.ts";
import { arithmetic, broadcastConst, reshaped } from "./fold.ts";
import {
  checkConstShape,
  constOf,
  foldOnly,
  type Mapper,
  outName,
  requireConst,
} from "./mapper.ts";

type BinaryOp = "add" | "sub" | "mul" | "div";

/** True when `value` is a constant filled with `fill` whose broadcast leaves `other`'s shape alone. */
function isNeutral(value: Value, other: Value, fill: number): boolean {
  const tensor = constOf(value);
  // An empty constant is no neutral element: x + empty is empty, not x.
  if (!tensor || tensor.dtype !== "float" || tensor.data.length === 0) return false;
  if (!tensor.data.every((x) => x === fill)) return false;
  const otherShape = other.kind === "node" ? other.node.type.shape : undefined;
  if (!otherShape) return false;
  const out = broadcastShapes(tensor.shape, otherShape);
  return out !== undefined && sameShape(out, otherShape);
}

function binary(onnxOp: string, op: BinaryOp): Mapper {
  return (ctx, args) => {
    const [a, b] = args.inputs;
    if (!a || !b) ctx.fail("needs two inputs");
    const ta = constOf(a!), tb = constOf(b!);
    if (ta && tb) {
      if (ta.dtype !== tb.dtype) ctx.fail(`mixes ${ta.dtype} and ${tb.dtype} tensors`);
      const shape = broadcastShapes(ta.shape, tb.shape);
      if (shape) {
        checkConstShape(ctx, shape, "the broadcast shape");
        ctx.fold(sizeOf(shape), Math.max(ta.data.length, tb.data.length));
      }
      const out = broadcastConst(ta, tb, arithmetic(onnxOp, ta.dtype), ta.dtype, outName(args));
      return [
        out ? constValue(out) : ctx.fail(`shapes [${ta.shape}] and [${tb.shape}] do not broadcast`),
      ];
    }
    // x + 0, 0 + x, x - 0, x * 1, 1 * x, x / 1: exact, and they hide parallel branches.
    const zero = op === "add" || op === "sub" ? 0 : 1;
    if (isNeutral(b!, a!, zero)) return [a!];
    if ((op === "add" || op === "mul") && isNeutral(a!, b!, zero)) return [b!];
    return [ctx.emit(op, [ctx.node(a, "input 0"), ctx.node(b, "input 1")], {}, outName(args))];
  };
}

function unary(op: "relu" | "sigmoid" | "erf" | "gelu"): Mapper {
  return (ctx, args) => [ctx.emit(op, [ctx.node(args.inputs[0])], {}, outName(args))];
}

const gelu: Mapper = (ctx, args) => {
  const approximate = args.attrs.string("approximate", "none");
  if (approximate !== "none") {
    ctx.fail(`Gelu with approximate="${approximate}" is not supported (only the erf form)`);
  }
  return unary("gelu")(ctx, args);
};

/** Comparisons and min/max on constants (shape arithmetic only). */
function compare(onnxOp: string): Mapper {
  return foldOnly(onnxOp, (ctx, args) => {
    const a = requireConst(ctx, args.inputs[0], "input 0"),
      b = requireConst(ctx, args.inputs[1], "input 1");
    const shape = broadcastShapes(a.shape, b.shape);
    if (shape) {
      checkConstShape(ctx, shape, "the broadcast shape");
      ctx.fold(sizeOf(shape), Math.max(a.data.length, b.data.length));
    }
    const result = onnxOp === "Min" || onnxOp === "Max" ? a.dtype : "bool";
    const out = broadcastConst(a, b, arithmetic(onnxOp, a.dtype), result, outName(args));
    return [out ? constValue(out) : ctx.fail("inputs do not broadcast")];
  });
}

function constUnary(onnxOp: string, apply: (x: number) => number): Mapper {
  return foldOnly(onnxOp, (ctx: ImportContext, args) => {
    const x = requireConst(ctx, args.inputs[0], "input");
    ctx.fold(x.data.length, x.data.length);
    const out = reshaped(x, x.shape, outName(args));
    const round = x.dtype === "float" ? Math.fround : (value: number) => value;
    return [constValue({ ...out, data: x.data.map((value) => round(apply(value))) })];
  });
}

/** Elementwise mappers, by ONNX op type. */
export const MATH_MAPPERS: Readonly<Record<string, Mapper>> = {
  Add: binary("Add", "add"),
  Sub: binary("Sub", "sub"),
  Mul: binary("Mul", "mul"),
  Div: binary("Div", "div"),
  Relu: unary("relu"),
  Sigmoid: unary("sigmoid"),
  Erf: unary("erf"),
  Gelu: gelu,
  Equal: compare("Equal"),
  Less: compare("Less"),
  Greater: compare("Greater"),
  Min: compare("Min"),
  Max: compare("Max"),
  Neg: constUnary("Neg", (x) => -x),
  Abs: constUnary("Abs", Math.abs),
  Floor: constUnary("Floor", Math.floor),
  Ceil: constUnary("Ceil", Math.ceil),
  Sqrt: constUnary("Sqrt", Math.sqrt),
};
