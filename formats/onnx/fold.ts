/**
 * Constant folding on the ONNX side. torch writes `x.reshape(-1, C, h, w)` and
 * `x.size()` arithmetic as Shape -> Gather -> Unsqueeze -> Concat chains (with
 * Cast, Div, Slice... mixed in); once input shapes are static every one of
 * them is a constant, and this file evaluates them with ONNX semantics so that
 * Reshape sees a plain shape. Movement ops reuse the IR's reference kernels.
 * Everything here works on whole constant tensors, whatever their dtype.
 */
import { broadcastShapes, broadcastStrides, OPS, sizeOf, stridesOf } from "../../ir/mod.ts";
import type { ConstDType, ConstTensor } from "./tensor.ts";

/** Makes a constant. */
export function constant(
  dtype: ConstDType,
  shape: readonly number[],
  data: ArrayLike<number>,
  name: string,
): ConstTensor {
  return { dtype, shape: [...shape], data: Float64Array.from(data), name };
}

/** Normalizes a possibly negative axis against `rank`; undefined when out of range. */
export function normalizeAxis(axis: number, rank: number): number | undefined {
  const normal = axis < 0 ? axis + rank : axis;
  return Number.isInteger(normal) && normal >= 0 && normal < rank ? normal : undefined;
}

/** Rounds a result to its dtype: float32 for floats, 0/1 for bools. */
function rounder(dtype: ConstDType): (value: number) => number {
  if (dtype === "float") return Math.fround;
  if (dtype === "bool") return (value) => (value ? 1 : 0);
  return (value) => value;
}

/** Elementwise op over broadcast constants. */
export function broadcastConst(
  a: ConstTensor,
  b: ConstTensor,
  apply: (x: number, y: number) => number,
  dtype: ConstDType,
  name: string,
): ConstTensor | undefined {
  const shape = broadcastShapes(a.shape, b.shape);
  if (!shape) return undefined;
  const sa = broadcastStrides(a.shape, shape), sb = broadcastStrides(b.shape, shape);
  const strides = stridesOf(shape);
  const round = rounder(dtype);
  const out = new Float64Array(sizeOf(shape));
  for (let i = 0; i < out.length; i++) {
    let ia = 0, ib = 0, rest = i;
    for (let axis = 0; axis < shape.length; axis++) {
      const index = Math.floor(rest / strides[axis]);
      rest -= index * strides[axis];
      ia += index * sa[axis];
      ib += index * sb[axis];
    }
    out[i] = round(apply(a.data[ia], b.data[ib]));
  }
  return { dtype, shape, data: out, name };
}

/** ONNX arithmetic: integer division truncates toward zero, as ONNX Runtime does. */
export function arithmetic(op: string, dtype: ConstDType): (x: number, y: number) => number {
  switch (op) {
    case "Add":
      return (x, y) => x + y;
    case "Sub":
      return (x, y) => x - y;
    case "Mul":
      return (x, y) => x * y;
    case "Div":
      return dtype === "float" ? (x, y) => x / y : (x, y) => Math.trunc(x / y);
    case "Equal":
      return (x, y) => (x === y ? 1 : 0);
    case "Less":
      return (x, y) => (x < y ? 1 : 0);
    case "Greater":
      return (x, y) => (x > y ? 1 : 0);
    case "Min":
      return Math.min;
    default: // Max
      return Math.max;
  }
}

/** Gather along `axis` with constant (possibly negative) indices. */
export function gather(
  data: ConstTensor,
  indices: ConstTensor,
  axis: number,
  name: string,
): ConstTensor | string {
  const dim = data.shape[axis];
  const outer = sizeOf(data.shape.slice(0, axis)), inner = sizeOf(data.shape.slice(axis + 1));
  const shape = [...data.shape.slice(0, axis), ...indices.shape, ...data.shape.slice(axis + 1)];
  const out = new Float64Array(sizeOf(shape));
  let o = 0;
  for (let block = 0; block < outer; block++) {
    for (const raw of indices.data) {
      const index = raw < 0 ? raw + dim : raw;
      if (!(index >= 0 && index < dim)) return `index ${raw} is out of range for axis size ${dim}`;
      const from = (block * dim + index) * inner;
      out.set(data.data.subarray(from, from + inner), o);
      o += inner;
    }
  }
  return { dtype: data.dtype, shape, data: out, name };
}

/** ONNX Slice on a constant, with its clamping rules. */
export function slice(
  data: ConstTensor,
  starts: readonly number[],
  ends: readonly number[],
  axes: readonly number[],
  steps: readonly number[],
  name: string,
): ConstTensor | string {
  const rank = data.shape.length;
  const begin = data.shape.map(() => 0), step = data.shape.map(() => 1);
  const shape = [...data.shape];
  for (let i = 0; i < axes.length; i++) {
    const axis = normalizeAxis(axes[i], rank);
    if (axis === undefined) return `axis ${axes[i]} is out of range`;
    const dim = data.shape[axis], s = steps[i] ?? 1;
    if (s === 0) return "step 0";
    const clamp = (value: number, low: number, high: number) =>
      Math.min(Math.max(value < 0 ? value + dim : value, low), high);
    const start = s > 0 ? clamp(starts[i], 0, dim) : clamp(starts[i], -1, dim - 1);
    const end = s > 0 ? clamp(ends[i], 0, dim) : clamp(ends[i], -1, dim - 1);
    begin[axis] = start;
    step[axis] = s;
    shape[axis] = Math.max(0, Math.ceil((end - start) / s));
  }
  const inStrides = stridesOf(data.shape), outStrides = stridesOf(shape);
  const out = new Float64Array(sizeOf(shape));
  for (let i = 0; i < out.length; i++) {
    let from = 0, rest = i;
    for (let axis = 0; axis < rank; axis++) {
      const index = Math.floor(rest / outStrides[axis]);
      rest -= index * outStrides[axis];
      from += (begin[axis] + index * step[axis]) * inStrides[axis];
    }
    out[i] = data.data[from];
  }
  return { dtype: data.dtype, shape, data: out, name };
}

/** Transpose of a constant, by the IR's reference kernel. */
export function transposeConst(
  data: ConstTensor,
  perm: readonly number[],
  name: string,
): ConstTensor {
  const shape = perm.map((axis) => data.shape[axis]);
  const out = OPS.transpose.evaluate({ perm }, [data], shape);
  return { dtype: data.dtype, shape, data: out, name };
}

/** Concatenation of constants of one dtype. */
export function concatConst(
  inputs: readonly ConstTensor[],
  axis: number,
  name: string,
): ConstTensor {
  const shape = inputs[0].shape.map((dim, i) =>
    i === axis ? inputs.reduce((total, input) => total + input.shape[axis], 0) : dim
  );
  const out = OPS.concat.evaluate({ axis }, inputs, shape);
  return { dtype: inputs[0].dtype, shape, data: out, name };
}

/** The same data under another shape (reshape, squeeze, unsqueeze, flatten, cast). */
export function reshaped(
  data: ConstTensor,
  shape: readonly number[],
  name: string,
  dtype: ConstDType = data.dtype,
): ConstTensor {
  const round = rounder(dtype);
  const values = dtype === data.dtype
    ? data.data
    : Float64Array.from(data.data, (value) => round(dtype === "int" ? Math.trunc(value) : value));
  return { dtype, shape: [...shape], data: values, name };
}

/** ONNX Expand of a constant: broadcast to `shape` (which itself broadcasts with the data). */
export function expandConst(data: ConstTensor, shape: readonly number[], name: string) {
  const ones: ConstTensor = {
    dtype: data.dtype,
    shape,
    data: new Float64Array(sizeOf(shape)),
    name,
  };
  return broadcastConst(data, ones, (x) => x, data.dtype, name);
}
