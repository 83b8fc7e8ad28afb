/**
 * Views: how a kernel finds a logical tensor's elements in a flat buffer.
 * Movement ops (reshape, transpose, flatten) and broadcasting never move
 * data; they change the view through which kernels read and write.
 *
 * A layer maps logical coordinates to a flat index: each logical axis is a
 * row-major group of fine dims (size, stride), so a reshape that merges axes
 * concatenates groups, one that splits axes cuts fine dims, and a transpose
 * permutes groups. Only a reshape that cuts across a fine dim (a permuted
 * 6 viewed as 4 x ...) needs a second layer, which reads the first layer's
 * result as a row-major flat index into the layer below. A later reshape
 * that makes the cut unnecessary collapses the layers again.
 *
 * Targets differ in how many layers a kernel can address (WGSL offset
 * functions: any; wasm index tables: one). `peel` is the answer for those
 * that need fewer: the bottom layer copied out to a contiguous buffer, which
 * the layers above then read directly.
 */
import { isReinterpret, type Node, sizeOf, stridesOf } from "../../ir/mod.ts";
import { type Dim, groupDims, normalizeDims } from "./dims.ts";

export { type Dim, groupDims, normalizeDims } from "./dims.ts";

/** Logical axes as groups of fine dims (outer to inner), plus a constant offset. */
export interface Layer {
  readonly axes: readonly (readonly Dim[])[];
  readonly offset: number;
}

/** layers[0] is the logical view; the last layer addresses the buffer. */
export interface View {
  readonly layers: readonly Layer[];
}

/** The sizes of a layer's logical axes. */
export function layerShape(layer: Layer): number[] {
  return layer.axes.map((dims) => dims.reduce((a, d) => a * d.size, 1));
}

/** The logical shape a view describes. */
export function viewShape(view: View): number[] {
  return layerShape(view.layers[0]);
}

function contiguousLayer(shape: readonly number[], offset = 0): Layer {
  const strides = stridesOf(shape);
  return {
    axes: shape.map((size, axis) => (size === 1 ? [] : [{ size, stride: strides[axis] }])),
    offset,
  };
}

/** A row-major tensor starting at element `offset`. */
export function contiguous(shape: readonly number[], offset = 0): View {
  return { layers: [contiguousLayer(shape, offset)] };
}

function withTop(view: View, top: Layer): View {
  return { layers: [top, ...view.layers.slice(1)] };
}

/** out axis i = in axis perm[i]. */
export function transposeView(view: View, perm: readonly number[]): View {
  const top = view.layers[0];
  return withTop(view, { axes: perm.map((axis) => top.axes[axis]), offset: top.offset });
}

/** The inverse of a permutation. */
export function inversePerm(perm: readonly number[]): number[] {
  const inverse = new Array<number>(perm.length);
  perm.forEach((axis, i) => (inverse[axis] = i));
  return inverse;
}

/** Row-major reshape (shapes resolved, no -1). */
export function reshapeView(view: View, shape: readonly number[]): View {
  const top = view.layers[0];
  if (sizeOf(shape) !== sizeOf(layerShape(top))) {
    throw new Error(`internal: cannot view [${layerShape(top)}] as [${shape}]`);
  }
  const axes = groupDims(normalizeDims(top.axes.flat()), shape);
  if (axes) return collapse(withTop(view, { axes, offset: top.offset }));
  return { layers: [contiguousLayer(shape), ...view.layers] };
}

/** NumPy broadcasting to `shape`: new and size-1 axes read with stride 0. */
export function broadcastView(view: View, shape: readonly number[]): View {
  const top = view.layers[0];
  const own = layerShape(top);
  const lead = shape.length - own.length;
  const fail = () => new Error(`internal: cannot broadcast [${own}] to [${shape}]`);
  if (lead < 0) throw fail();
  const axes = shape.map((size, axis) => {
    const inAxis = axis - lead;
    if (inAxis >= 0 && own[inAxis] === size) return top.axes[inAxis];
    if (inAxis >= 0 && own[inAxis] !== 1) throw fail();
    return size === 1 ? [] : [{ size, stride: 0 }];
  });
  return withTop(view, { axes, offset: top.offset });
}

/**
 * Elements [start, start + length) along `axis` of a row-major `shape`
 * starting at element 0: where one input of a concat is stored.
 */
export function sliceOfContiguous(
  shape: readonly number[],
  axis: number,
  start: number,
  length: number,
): View {
  const inner = sizeOf(shape.slice(axis + 1));
  const outer = contiguousLayer([sizeOf(shape.slice(0, axis)), shape[axis], inner]);
  const axes = [
    outer.axes[0],
    length === 1 ? [] : [{ size: length, stride: inner }],
    outer.axes[2],
  ];
  const narrowed: View = { layers: [{ axes, offset: start * inner }] };
  return reshapeView(narrowed, [...shape.slice(0, axis), length, ...shape.slice(axis + 1)]);
}

/** The view of a movement node's output, given the view of its input. */
export function moveForward(view: View, node: Node): View {
  if (node.op === "transpose") return transposeView(view, node.attrs.perm);
  if (isReinterpret(node)) return reshapeView(view, node.type.shape);
  throw new Error(`internal: ${node.op} is not a view op`);
}

/** The view of a movement node's input, given the view of its output. */
export function moveBackward(view: View, node: Node): View {
  if (node.op === "transpose") return transposeView(view, inversePerm(node.attrs.perm));
  if (isReinterpret(node)) return reshapeView(view, node.inputs[0].type.shape);
  throw new Error(`internal: ${node.op} is not a view op`);
}

/** Moves a view in the shape after `moves` back to the shape before them. */
export function backThrough(moves: readonly Node[], view: View): View {
  let result = view;
  for (let i = moves.length - 1; i >= 0; i--) result = moveBackward(result, moves[i]);
  return result;
}

/** Moves a view through `moves` in order. */
export function forwardThrough(moves: readonly Node[], view: View): View {
  let result = view;
  for (const move of moves) result = moveForward(result, move);
  return result;
}

/** Drops size-1 fine dims and merges neighbours of an axis that continue each other. */
export function simplifyView(view: View): View {
  return {
    layers: view.layers.map((layer) => ({
      offset: layer.offset,
      axes: layer.axes.map((dims) => normalizeDims(dims)),
    })),
  };
}

/** True when the view reads its buffer row-major from element 0 (one layer). */
export function isContiguous(view: View): boolean {
  if (view.layers.length !== 1) return false;
  const [layer] = view.layers;
  const merged = normalizeDims(layer.axes.flat());
  return layer.offset === 0 &&
    (merged.length === 0 || (merged.length === 1 && merged[0].stride === 1));
}

/** The element offset of a logical flat index (row-major over the view's shape), in JS. */
export function offsetOf(view: View, flat: number): number {
  let index = flat;
  for (const layer of view.layers) {
    const shape = layerShape(layer);
    const strides = stridesOf(shape);
    let offset = layer.offset;
    shape.forEach((_size, axis) => {
      let coord = Math.floor(index / strides[axis]) % shape[axis];
      const dims = layer.axes[axis];
      for (let d = dims.length - 1; d >= 0; d--) {
        offset += (coord % dims[d].size) * dims[d].stride;
        coord = Math.floor(coord / dims[d].size);
      }
    });
    index = offset;
  }
  return index;
}

/**
 * The materialize answer for a view with more layers than a target
 * addresses: `copy`, the bottom layer alone (a one-layer view of the same
 * buffer), is copied row-major into a new buffer of its shape, and `rest`
 * reads that buffer. Undefined for a one-layer view.
 */
export function peel(view: View): { copy: View; rest: View } | undefined {
  if (view.layers.length < 2) return undefined;
  const bottom = view.layers[view.layers.length - 1];
  return { copy: { layers: [bottom] }, rest: { layers: view.layers.slice(0, -1) } };
}

/** Merges layers from the top while the layer below can take the one above (see mergeLayers). */
function collapse(view: View): View {
  let layers = view.layers;
  while (layers.length > 1) {
    const merged = mergeLayers(layers[0], layers[1]);
    if (!merged) break;
    layers = [merged, ...layers.slice(2)];
  }
  return layers === view.layers ? view : { layers };
}

/**
 * One layer equal to `top` read through `below`, or undefined. It exists when
 * top's moving fine dims are a permutation of a row-major factorization of
 * below's flat index space (what reshapes and transposes make; a slice is
 * not one) and below's runs can be cut at those factors.
 */
function mergeLayers(top: Layer, below: Layer): Layer | undefined {
  if (top.offset !== 0) return undefined;
  const moving = top.axes.flat().filter((dim) => dim.size > 1 && dim.stride !== 0);
  const order = [...moving].sort((a, b) => b.stride - a.stride);
  let expected = 1;
  for (let i = order.length - 1; i >= 0; i--) {
    if (order[i].stride !== expected) return undefined;
    expected *= order[i].size;
  }
  if (expected !== sizeOf(layerShape(below))) return undefined;
  const groups = groupDims(normalizeDims(below.axes.flat()), order.map((dim) => dim.size));
  if (!groups) return undefined;
  const runsOf = new Map<Dim, readonly Dim[]>(order.map((dim, i) => [dim, groups[i]]));
  const axes = top.axes.map((dims) =>
    dims.flatMap((dim) => dim.size === 1 ? [] : dim.stride === 0 ? [dim] : runsOf.get(dim)!)
  );
  return { axes, offset: below.offset };
}
