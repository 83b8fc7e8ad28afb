/**
 * Mappers of Gemm and MatMul, whose weight (B) must be a constant: both
 * become the IR's linear, with the weight stored [out, in] as PyTorch does.
 * A 3-D constant B is the batched MatMul refold's own export writes for a
 * grouped FC, and becomes one grouped linear again.
 */
import { sizeOf } from "../../ir/mod.ts";
import { constValue, type ImportContext, type Value } from "./context.ts";
import { transposeConst } from "./fold.ts";
import { constOf, type Mapper, type MapperArgs, outName } from "./mapper.ts";
import type { ConstTensor } from "./tensor.ts";

/** Scales a float constant, keeping it (and its name) when the factor is 1. */
function scaled(ctx: ImportContext, tensor: ConstTensor, factor: number): ConstTensor {
  if (factor === 1) return tensor;
  ctx.fold(tensor.data.length, tensor.data.length);
  // alpha (A B) = A (alpha B): exact up to the float32 rounding of alpha B.
  return { ...tensor, data: tensor.data.map((value) => Math.fround(value * factor)) };
}

const gemm: Mapper = (ctx, args) => {
  const name = outName(args);
  let a = ctx.node(args.inputs[0], "A");
  if (a.type.shape.length !== 2) ctx.fail(`A must be 2-D, it is [${a.type.shape}]`);
  if (args.attrs.int("transA", 0)) {
    a = ctx.emitNode("transpose", [a], { perm: [1, 0] }, `${name}/A`);
  }
  const b = constOf(args.inputs[1]) ??
    ctx.fail("B is computed at run time; refold maps Gemm only with a constant weight");
  if (b.shape.length !== 2) ctx.fail(`B must be 2-D, it is [${b.shape}]`);
  const weight = args.attrs.int("transB", 0)
    ? b
    : ctx.derive(b, "T", () => transposeConst(b, [1, 0], b.name));
  const alpha = args.attrs.float("alpha", 1), beta = args.attrs.float("beta", 1);
  if (!Number.isFinite(alpha) || !Number.isFinite(beta)) {
    ctx.fail(`alpha ${alpha} and beta ${beta} must be finite`);
  }
  const w = ctx.weight(scaled(ctx, weight, alpha), "B");
  const n = w.type.shape[0];
  const c = args.inputs[2];
  const cConst = constOf(c);
  if (
    cConst && sizeOf(cConst.shape) === n &&
    cConst.shape.every((d, i, all) => i === all.length - 1 || d === 1)
  ) {
    const bias = ctx.weight(
      cConst.shape.length === 1 && beta === 1
        ? cConst
        : { ...scaled(ctx, cConst, beta), shape: [n] },
      "C",
    );
    return [ctx.emit("linear", [a, w, bias], { groups: 1 }, name)];
  }
  const product = ctx.emit("linear", [a, w], { groups: 1 }, c ? `${name}/AB` : name);
  if (!c || (cConst && cConst.data.every((v) => v === 0))) return [product];
  let term = ctx.node(cConst ? constValue(scaled(ctx, cConst, beta)) : c, "C");
  if (!cConst && beta !== 1) {
    const factor = ctx.weight({
      dtype: "float",
      shape: [],
      data: Float64Array.of(beta),
      name: `${name}/beta`,
    });
    term = ctx.emitNode("mul", [term, factor], {}, `${name}/betaC`);
  }
  return [ctx.emit("add", [ctx.node(product), term], {}, name)];
};

const matMul: Mapper = (ctx, args) => {
  const b = constOf(args.inputs[1]);
  if (!b) ctx.fail("B is computed at run time; refold maps MatMul only with a constant weight");
  if (b!.shape.length === 3) return [batchedMatMul(ctx, args, b!)];
  if (b!.shape.length !== 2) ctx.fail(`the constant B must be 2-D or 3-D, it is [${b!.shape}]`);
  const w = ctx.weight(ctx.derive(b!, "T", () => transposeConst(b!, [1, 0], b!.name)), "B");
  return [ctx.emit("linear", [ctx.node(args.inputs[0], "A"), w], { groups: 1 }, outName(args))];
};

/**
 * A[g, rows, K] x B[g, K, N] (refold's own export of a grouped FC) as one
 * grouped linear: A's groups side by side on the feature axis, [rows, g*K],
 * times the [g*N, K] weight whose group i is B[i] transposed, then back to
 * [g, rows, N]. The transposes cancel against the export's own.
 */
function batchedMatMul(ctx: ImportContext, args: MapperArgs, b: ConstTensor): Value {
  const a = ctx.node(args.inputs[0], "A");
  const [groups, k, n] = b.shape;
  const [ga, rows, ka] = a.type.shape;
  if (a.type.shape.length !== 3 || ga !== groups || ka !== k) {
    ctx.fail(
      `A [${a.type.shape}] times the constant B [${b.shape}]: refold maps a batched MatMul only as [g, rows, K] x [g, K, N]`,
    );
  }
  const name = outName(args);
  const grouped = ctx.derive(b, "grouped", () => {
    const data = new Float32Array(groups * n * k);
    for (let g = 0; g < groups; g++) {
      for (let o = 0; o < n; o++) {
        for (let i = 0; i < k; i++) data[(g * n + o) * k + i] = b.data[(g * k + i) * n + o];
      }
    }
    return { dtype: b.dtype, shape: [groups * n, k], data, name: b.name };
  });
  const side = ctx.emitNode("transpose", [a], { perm: [1, 0, 2] }, `${name}/A`);
  const flat = ctx.emitNode("reshape", [side], { shape: [rows, groups * k] }, `${name}/A`);
  const product = ctx.emitNode(
    "linear",
    [flat, ctx.weight(grouped, "B")],
    { groups },
    `${name}/AB`,
  );
  const split = ctx.emitNode("reshape", [product], { shape: [rows, groups, n] }, `${name}/AB`);
  return ctx.emit("transpose", [split], { perm: [1, 0, 2] }, name);
}

/** Matrix-product mappers, by ONNX op type. */
export const MATMUL_MAPPERS: Readonly<Record<string, Mapper>> = {
  Gemm: gemm,
  MatMul: matMul,
};
