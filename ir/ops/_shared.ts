/**
 * Helpers shared by the op definitions: the OpDef contract, shape-error
 * construction and small attribute checks.
 */
import { formatAttrs } from "../attrs.ts";
import { ShapeError } from "../errors.ts";
import type { Tensor } from "../tensor.ts";
import { formatType, type TensorType } from "../types.ts";

/**
 * Everything the compiler knows about one op, in one place: how many inputs
 * it takes, its shape rule, its reference semantics and its cost.
 */
export interface OpDef<A> {
  /** Smallest and largest number of inputs. */
  readonly arity: readonly [number, number];
  /** Output shape; throws a ShapeError via `fail` when inputs or attributes do not fit. */
  shape(attrs: A, inputs: readonly TensorType[]): number[];
  /** Reference semantics in float64: the living definition of the op. */
  evaluate(attrs: A, inputs: readonly Tensor[], outShape: readonly number[]): Float64Array;
  /** Floating-point operations (a multiply-add counts 2) for one evaluation. */
  flops(attrs: A, inputs: readonly TensorType[], outShape: readonly number[]): number;
}

/** Throws a ShapeError naming the op, its attributes and its input types. */
export function fail(
  op: string,
  attrs: object,
  inputs: readonly TensorType[],
  problem: string,
): never {
  const attrText = formatAttrs(attrs);
  const inputText = inputs.map(formatType).join(", ");
  throw new ShapeError(`${op}${attrText ? " " + attrText : ""}(${inputText}): ${problem}`);
}

/** Checks that `value` is an array of `length` integers, each at least `min`. */
export function isIntTuple(value: unknown, length: number, min: number): value is number[] {
  return Array.isArray(value) && value.length === length &&
    value.every((item) => Number.isSafeInteger(item) && item >= min);
}

/** Output length of a sliding window (conv or pool) along one axis. */
export function windowOutput(
  input: number,
  kernel: number,
  stride: number,
  padBefore: number,
  padAfter: number,
  dilation = 1,
): number {
  return Math.floor((input + padBefore + padAfter - dilation * (kernel - 1) - 1) / stride) + 1;
}
