/**
 * Elementwise ops. Binary ops broadcast with NumPy rules (shapes aligned at
 * the right, size-1 axes stretch). Unary ops keep the shape.
 */
import { stridesOf, type TensorType } from "../types.ts";
import type { Tensor } from "../tensor.ts";
import { fail, type OpDef } from "./_shared.ts";

type NoAttrs = Record<never, never>;

/** The broadcast shape of two shapes, or undefined when they do not broadcast. */
export function broadcastShapes(
  a: readonly number[],
  b: readonly number[],
): number[] | undefined {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1, db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return undefined;
    out.push(Math.max(da, db));
  }
  return out;
}

/** Strides that read `shape` as if broadcast to `outShape` (0 on stretched axes). */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const own = stridesOf(shape);
  const offset = outShape.length - shape.length;
  return outShape.map((_dim, axis) => {
    const inAxis = axis - offset;
    return inAxis < 0 || shape[inAxis] === 1 ? 0 : own[inAxis];
  });
}

function binary(op: string, apply: (a: number, b: number) => number): OpDef<NoAttrs> {
  return {
    arity: [2, 2],
    shape(attrs, inputs: readonly TensorType[]) {
      const out = broadcastShapes(inputs[0].shape, inputs[1].shape);
      if (!out) fail(op, attrs, inputs, "shapes do not broadcast");
      return out;
    },
    evaluate(_attrs, [a, b]: readonly Tensor[], outShape) {
      const out = new Float64Array(outShape.reduce((x, d) => x * d, 1));
      const sa = broadcastStrides(a.shape, outShape), sb = broadcastStrides(b.shape, outShape);
      const index = new Array<number>(outShape.length).fill(0);
      let ia = 0, ib = 0;
      for (let i = 0; i < out.length; i++) {
        out[i] = apply(a.data[ia], b.data[ib]);
        for (let axis = outShape.length - 1; axis >= 0; axis--) {
          ia += sa[axis];
          ib += sb[axis];
          if (++index[axis] < outShape[axis]) break;
          ia -= sa[axis] * outShape[axis];
          ib -= sb[axis] * outShape[axis];
          index[axis] = 0;
        }
      }
      return out;
    },
    flops: (_attrs, _inputs, outShape) => outShape.reduce((x, d) => x * d, 1),
  };
}

function unary(apply: (x: number) => number, cost = 1): OpDef<NoAttrs> {
  return {
    arity: [1, 1],
    shape: (_attrs, [x]) => [...x.shape],
    evaluate: (_attrs, [x]) => Float64Array.from(x.data, apply),
    flops: (_attrs, [x]) => cost * x.shape.reduce((a, d) => a * d, 1),
  };
}

/**
 * erf to float64 accuracy: erf(x) = 2/sqrt(pi) e^(-x^2) sum 2^n x^(2n+1) / (2n+1)!!,
 * a series of positive terms, so no cancellation; erf(6) rounds to 1 in float64.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax >= 6) return Math.sign(x);
  let term = ax, sum = ax;
  for (let n = 1; n < 400 && term > 1e-17 * sum; n++) {
    term *= (2 * ax * ax) / (2 * n + 1);
    sum += term;
  }
  return Math.sign(x) * Math.min(1, (2 / Math.sqrt(Math.PI)) * Math.exp(-ax * ax) * sum);
}

export const add = binary("add", (a, b) => a + b);
export const sub = binary("sub", (a, b) => a - b);
export const mul = binary("mul", (a, b) => a * b);
export const div = binary("div", (a, b) => a / b);
export const relu = unary((x) => (x > 0 ? x : 0));
export const sigmoid = unary((x) => 1 / (1 + Math.exp(-x)), 4);
/** GELU in its exact erf form: x * (1 + erf(x / sqrt 2)) / 2. */
export const gelu = unary((x) => 0.5 * x * (1 + erf(x / Math.SQRT2)), 8);
export const erfOp = unary(erf, 8);
