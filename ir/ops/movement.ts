/**
 * Movement ops: they only rearrange elements. reshape keeps row-major order,
 * transpose permutes axes, flatten collapses to 2-D, concat joins along an axis.
 */
import { sizeOf, stridesOf } from "../types.ts";
import { fail, type OpDef } from "./_shared.ts";

/** Target shape; at most one -1, which is inferred. */
export interface ReshapeAttrs {
  readonly shape: readonly number[];
}

/** out.shape[i] = in.shape[perm[i]]. */
export interface TransposeAttrs {
  readonly perm: readonly number[];
}

/** Collapse axes [0, axis) and [axis, rank) into two. */
export interface FlattenAttrs {
  readonly axis: number;
}

/** Join inputs along `axis`. */
export interface ConcatAttrs {
  readonly axis: number;
}

/** The shape a reshape produces, resolving its -1; undefined when impossible. */
export function resolveReshape(
  target: readonly number[],
  size: number,
): number[] | undefined {
  if (!Array.isArray(target)) return undefined;
  const inferred = target.filter((dim) => dim === -1).length;
  if (inferred > 1) return undefined;
  if (!target.every((dim) => dim === -1 || (Number.isSafeInteger(dim) && dim >= 1))) {
    return undefined;
  }
  const known = target.reduce((a, d) => (d === -1 ? a : a * d), 1);
  if (inferred === 0) return known === size ? [...target] : undefined;
  if (size % known !== 0) return undefined;
  return target.map((dim) => (dim === -1 ? size / known : dim));
}

const copy = (_attrs: unknown, [x]: readonly { data: ArrayLike<number> }[]) =>
  Float64Array.from(x.data);

/** Row-major reshape. */
export const reshape: OpDef<ReshapeAttrs> = {
  arity: [1, 1],
  shape(attrs, inputs) {
    const out = resolveReshape(attrs.shape, sizeOf(inputs[0].shape));
    if (!out) fail("reshape", attrs, inputs, "target shape does not hold the input's elements");
    return out;
  },
  evaluate: copy,
  flops: () => 0,
};

/** Row-major flatten to 2-D. */
export const flatten: OpDef<FlattenAttrs> = {
  arity: [1, 1],
  shape(attrs, inputs) {
    const { shape } = inputs[0];
    if (!Number.isSafeInteger(attrs.axis) || attrs.axis < 0 || attrs.axis > shape.length) {
      fail("flatten", attrs, inputs, "axis out of range");
    }
    return [sizeOf(shape.slice(0, attrs.axis)), sizeOf(shape.slice(attrs.axis))];
  },
  evaluate: copy,
  flops: () => 0,
};

/** Axis permutation. */
export const transpose: OpDef<TransposeAttrs> = {
  arity: [1, 1],
  shape(attrs, inputs) {
    const { shape } = inputs[0];
    const perm = attrs.perm;
    const isPermutation = Array.isArray(perm) && perm.length === shape.length &&
      [...perm].sort((a, b) => a - b).every((axis, i) => axis === i);
    if (!isPermutation) fail("transpose", attrs, inputs, "perm is not a permutation of the axes");
    return perm.map((axis) => shape[axis]);
  },
  evaluate(attrs, [x], outShape) {
    const inStrides = stridesOf(x.shape);
    const strides = attrs.perm.map((axis) => inStrides[axis]);
    const out = new Float64Array(x.data.length);
    const index = new Array<number>(outShape.length).fill(0);
    let source = 0;
    for (let i = 0; i < out.length; i++) {
      out[i] = x.data[source];
      for (let axis = outShape.length - 1; axis >= 0; axis--) {
        source += strides[axis];
        if (++index[axis] < outShape[axis]) break;
        source -= strides[axis] * outShape[axis];
        index[axis] = 0;
      }
    }
    return out;
  },
  flops: () => 0,
};

/** Concatenation. */
export const concat: OpDef<ConcatAttrs> = {
  arity: [1, Infinity],
  shape(attrs, inputs) {
    const [first] = inputs;
    const axis = attrs.axis;
    if (!Number.isSafeInteger(axis) || axis < 0 || axis >= first.shape.length) {
      fail("concat", attrs, inputs, "axis out of range");
    }
    let total = 0;
    for (const input of inputs) {
      const fits = input.shape.length === first.shape.length &&
        input.shape.every((dim, i) => i === axis || dim === first.shape[i]);
      if (!fits) fail("concat", attrs, inputs, "inputs differ outside the concat axis");
      total += input.shape[axis];
    }
    return first.shape.map((dim, i) => (i === axis ? total : dim));
  },
  evaluate(attrs, inputs, outShape) {
    const outer = sizeOf(outShape.slice(0, attrs.axis));
    const out = new Float64Array(sizeOf(outShape));
    let offset = 0;
    const rowOut = sizeOf(outShape.slice(attrs.axis));
    for (const input of inputs) {
      const row = sizeOf(input.shape.slice(attrs.axis));
      for (let o = 0; o < outer; o++) {
        out.set(input.data.subarray(o * row, (o + 1) * row), o * rowOut + offset);
      }
      offset += row;
    }
    return out;
  },
  flops: () => 0,
};
