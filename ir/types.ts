/**
 * Tensor types: element type plus a static shape. Only f32 is computed today;
 * f16 exists so that backends can store weights and activations narrower.
 */

/** Element types known to the IR. */
export type DType = "f32" | "f16";

/** All element types, for validation. */
export const DTYPES: readonly DType[] = ["f32", "f16"];

/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Readonly<Record<DType, number>> = { f32: 4, f16: 2 };

/** A statically shaped tensor type. */
export interface TensorType {
  readonly dtype: DType;
  readonly shape: readonly number[];
}

/** The number of elements of a shape (1 for a scalar). */
export function sizeOf(shape: readonly number[]): number {
  let size = 1;
  for (const dim of shape) size *= dim;
  return size;
}

/** Row-major strides of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    strides[axis] = stride;
    stride *= shape[axis];
  }
  return strides;
}

/** `f32[1,3,224,224]`: the form used by the printer and in error messages. */
export function formatType(type: TensorType): string {
  return `${type.dtype}[${type.shape.join(",")}]`;
}

/** Structural equality of two types. */
export function sameType(a: TensorType, b: TensorType): boolean {
  return a.dtype === b.dtype && sameShape(a.shape, b.shape);
}

/** Structural equality of two shapes. */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dim, axis) => dim === b[axis]);
}

/** Largest element count a single tensor may have (2^31 - 1 bytes of f32 is beyond every backend). */
export const MAX_TENSOR_ELEMENTS = 2 ** 30;

/** True when every dimension is a positive safe integer and the total size is sane. */
export function isValidShape(shape: readonly unknown[]): shape is number[] {
  let size = 1;
  for (const dim of shape) {
    if (typeof dim !== "number" || !Number.isSafeInteger(dim) || dim < 1) return false;
    size *= dim;
  }
  return size <= MAX_TENSOR_ELEMENTS;
}
