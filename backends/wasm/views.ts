/**
 * Strided views: how the wasm backend makes reshape, transpose and flatten
 * free. A view lists the runs ("dims") that the logical row-major element
 * order walks through a buffer; the logical shape only groups them. Reshape
 * keeps the dims, transpose regroups them, broadcasting adds stride-0 dims.
 * Kernels split a view at their loop boundaries into parts; a part with one
 * run is affine (index * stride), anything else becomes a table of offsets.
 */
import { sizeOf, stridesOf } from "../../ir/mod.ts";
import { type Dim, groupDims, normalizeDims } from "../dims.ts";

export { type Dim, normalizeDims } from "../dims.ts";

/** A view of a buffer in element units. */
export interface View {
  readonly shape: readonly number[];
  readonly dims: readonly Dim[];
  /** Elements from the start of the buffer to element 0. */
  readonly offset: number;
}

/** How a kernel loop index maps to an element offset. */
export type PartMap =
  | { readonly kind: "affine"; readonly stride: number }
  | { readonly kind: "table"; readonly dims: readonly Dim[]; readonly size: number };

/** A row-major contiguous view. */
export function contiguous(shape: readonly number[], offset = 0): View {
  const strides = stridesOf(shape);
  return { shape, offset, dims: shape.map((size, axis) => ({ size, stride: strides[axis] })) };
}

/**
 * Splits dims into consecutive groups holding `counts[i]` elements each, or
 * undefined when a group boundary falls inside a run that cannot be divided.
 */
export function splitDims(dims: readonly Dim[], counts: readonly number[]): Dim[][] | undefined {
  return groupDims(normalizeDims(dims), counts);
}

/** The same elements under another shape of equal size. */
export function reshapeView(view: View, shape: readonly number[]): View {
  if (sizeOf(shape) !== sizeOf(view.shape)) {
    throw new Error(`views: reshape [${view.shape}] -> [${shape}] changes the size`);
  }
  return { ...view, shape };
}

/** Axis permutation; undefined when the dims cannot be cut at the axis boundaries. */
export function transposeView(view: View, perm: readonly number[]): View | undefined {
  const groups = splitDims(view.dims, view.shape);
  if (!groups) return undefined;
  return {
    offset: view.offset,
    shape: perm.map((axis) => view.shape[axis]),
    dims: perm.flatMap((axis) => groups[axis]),
  };
}

/** NumPy broadcast to `shape` (stretched axes get stride 0). */
export function broadcastView(view: View, shape: readonly number[]): View | undefined {
  const groups = splitDims(view.dims, view.shape);
  if (!groups) return undefined;
  const lead = shape.length - view.shape.length;
  const dims = shape.flatMap((size, axis) => {
    const inAxis = axis - lead;
    if (inAxis >= 0 && view.shape[inAxis] === size) return groups[inAxis];
    return [{ size, stride: 0 }];
  });
  return { offset: view.offset, shape, dims };
}

/** The inverse of a permutation. */
export function inversePerm(perm: readonly number[]): number[] {
  const inverse = new Array<number>(perm.length);
  perm.forEach((axis, i) => (inverse[axis] = i));
  return inverse;
}

/** Splits a view into loop parts of `counts` elements each (see PartMap). */
export function partsOf(view: View, counts: readonly number[]): PartMap[] | undefined {
  const groups = splitDims(view.dims, counts);
  if (!groups) return undefined;
  return groups.map((group) => partMap(group));
}

/** One part's map: affine when its runs merge into one, else a table. */
export function partMap(dims: readonly Dim[]): PartMap {
  const merged = normalizeDims(dims);
  if (merged.length === 0) return { kind: "affine", stride: 0 };
  if (merged.length === 1) return { kind: "affine", stride: merged[0].stride };
  if (merged.every((dim) => dim.stride === 0)) return { kind: "affine", stride: 0 };
  return { kind: "table", dims: merged, size: sizeOf(merged.map((dim) => dim.size)) };
}

/** The offsets a table part lists, in loop order (used by the runtime and tests). */
export function tableOffsets(dims: readonly Dim[]): Int32Array {
  const size = sizeOf(dims.map((dim) => dim.size));
  const out = new Int32Array(size);
  const index = new Array<number>(dims.length).fill(0);
  let offset = 0;
  for (let i = 0; i < size; i++) {
    out[i] = offset;
    for (let d = dims.length - 1; d >= 0; d--) {
      offset += dims[d].stride;
      if (++index[d] < dims[d].size) break;
      offset -= dims[d].stride * dims[d].size;
      index[d] = 0;
    }
  }
  return out;
}

/** True when the view reads its buffer from `offset` on in plain row-major order. */
export function isContiguous(view: View): boolean {
  const dims = normalizeDims(view.dims);
  return dims.length === 0 || (dims.length === 1 && dims[0].stride === 1);
}
