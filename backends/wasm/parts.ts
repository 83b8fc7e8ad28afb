/**
 * How the wasm kernels address a plan view: split at a kernel's loop
 * boundaries into parts, one per loop. A part whose runs merge into one is
 * affine (index * stride); any other becomes a table of offsets that the
 * runtime fills at load (the RepMLP partition permutes). The plan gives the
 * wasm target one-layer views only (TargetCaps.viewLayers = 1).
 */
import { sizeOf } from "../../ir/mod.ts";
import { type Dim, normalizeDims, reshapeView, type View } from "../plan/mod.ts";

/** How a kernel loop index maps to an element offset. */
export type PartMap =
  | { readonly kind: "affine"; readonly stride: number }
  | { readonly kind: "table"; readonly dims: readonly Dim[]; readonly size: number };

/** A view split into loop parts: the element offset of index 0, and one map per loop. */
export interface Parts {
  readonly offset: number;
  readonly parts: readonly PartMap[];
}

/** Splits a view into loops of `counts` elements each; undefined when it needs two layers. */
export function partsOf(view: View, counts: readonly number[]): Parts | undefined {
  const split = reshapeView(view, counts);
  if (split.layers.length !== 1) return undefined;
  const [layer] = split.layers;
  return { offset: layer.offset, parts: layer.axes.map(partMap) };
}

/** One part's map: affine when its runs merge into one, else a table. */
export function partMap(dims: readonly Dim[]): PartMap {
  const merged = normalizeDims(dims);
  if (merged.length === 0) return { kind: "affine", stride: 0 };
  if (merged.length === 1) return { kind: "affine", stride: merged[0].stride };
  if (merged.every((dim) => dim.stride === 0)) return { kind: "affine", stride: 0 };
  return { kind: "table", dims: merged, size: sizeOf(merged.map((dim) => dim.size)) };
}
