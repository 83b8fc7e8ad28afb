/**
 * Accesses: how a logical tensor is found in a flat buffer. Movement ops
 * (reshape, transpose, flatten) and broadcasting never move data in this
 * backend; they change the access through which a kernel reads or writes.
 *
 * A layer maps logical coordinates to a flat index: each logical axis is a
 * row-major group of fine dimensions (size, stride), so a reshape that
 * merges axes just concatenates groups and one that splits axes splits fine
 * dimensions. Only a reshape that cuts across a fine dimension (6 -> 4) needs
 * a second layer, which reads the first layer's result as a row-major flat
 * index into the layer below. The partition permutes of RepMLP stay in one
 * layer, so their index math is a few constant divisions per element.
 */
import { type Node, RefoldError, sizeOf, stridesOf } from "../../ir/mod.ts";
import { type Dim, groupDims, normalizeDims } from "../dims.ts";

export type { Dim } from "../dims.ts";

/** Logical axes as groups of fine dims (outer to inner), plus a constant offset. */
export interface Layer {
  readonly axes: readonly (readonly Dim[])[];
  readonly offset: number;
}

/** layers[0] is the logical view; the last layer addresses the buffer. */
export interface Access {
  readonly layers: readonly Layer[];
}

/** The sizes of a layer's logical axes. */
export function layerShape(layer: Layer): number[] {
  return layer.axes.map((dims) => dims.reduce((a, d) => a * d.size, 1));
}

/** The logical shape an access describes. */
export function accessShape(access: Access): number[] {
  return layerShape(access.layers[0]);
}

function contiguousLayer(shape: readonly number[]): Layer {
  const strides = stridesOf(shape);
  return {
    axes: shape.map((size, axis) => (size === 1 ? [] : [{ size, stride: strides[axis] }])),
    offset: 0,
  };
}

/** A row-major tensor starting at element 0. */
export function contiguous(shape: readonly number[]): Access {
  return { layers: [contiguousLayer(shape)] };
}

function withTop(access: Access, top: Layer): Access {
  return { layers: [top, ...access.layers.slice(1)] };
}

/** out axis i = in axis perm[i]. */
export function transposeAccess(access: Access, perm: readonly number[]): Access {
  const top = access.layers[0];
  return withTop(access, { axes: perm.map((axis) => top.axes[axis]), offset: top.offset });
}

/** Splits the top layer's fine dims into `shape`, or undefined when a fine dim would be cut. */
function refine(top: Layer, shape: readonly number[]): Layer | undefined {
  // Unlike the wasm views, the fine dims are not merged first, so that every
  // access (and the WGSL index math written from it) keeps the layer's dims.
  const axes = groupDims(top.axes.flat().filter((dim) => dim.size > 1), shape);
  return axes ? { axes, offset: top.offset } : undefined;
}

/** Row-major reshape; -1 is not allowed here (shapes are resolved by then). */
export function reshapeAccess(access: Access, shape: readonly number[]): Access {
  const top = access.layers[0];
  if (sizeOf(shape) !== sizeOf(layerShape(top))) {
    throw new RefoldError(`webgpu: cannot view [${layerShape(top)}] as [${shape}]`);
  }
  const refined = refine(top, shape);
  if (refined) return withTop(access, refined);
  return { layers: [contiguousLayer(shape), ...access.layers] };
}

/** NumPy broadcasting of the access to `shape`: new and size-1 axes read with stride 0. */
export function broadcastAccess(access: Access, shape: readonly number[]): Access {
  const top = access.layers[0];
  const own = layerShape(top);
  const lead = shape.length - own.length;
  if (lead < 0) throw new RefoldError(`webgpu: cannot broadcast [${own}] to [${shape}]`);
  const axes = shape.map((size, axis) => {
    const inAxis = axis - lead;
    if (inAxis >= 0 && own[inAxis] === size) return top.axes[inAxis];
    if (inAxis >= 0 && own[inAxis] !== 1) {
      throw new RefoldError(`webgpu: cannot broadcast [${own}] to [${shape}]`);
    }
    return size === 1 ? [] : [{ size, stride: 0 }];
  });
  return withTop(access, { axes, offset: top.offset });
}

/** The access of a movement node's output, given the access of its input. */
export function moveForward(access: Access, node: Node): Access {
  switch (node.op) {
    case "transpose":
      return transposeAccess(access, node.attrs.perm);
    case "reshape":
    case "flatten":
      return reshapeAccess(access, node.type.shape);
    default:
      throw new RefoldError(`webgpu: ${node.op} is not a movement op`);
  }
}

/** The access of a movement node's input, given the access of its output. */
export function moveBackward(access: Access, node: Node): Access {
  const input = node.inputs[0].type.shape;
  switch (node.op) {
    case "transpose": {
      const perm = node.attrs.perm;
      const inverse = new Array<number>(perm.length);
      perm.forEach((axis, i) => (inverse[axis] = i));
      return transposeAccess(access, inverse);
    }
    case "reshape":
    case "flatten":
      return reshapeAccess(access, input);
    default:
      throw new RefoldError(`webgpu: ${node.op} is not a movement op`);
  }
}

/** Moves an access in the shape after `moves` back to the shape before them. */
export function backThrough(moves: readonly Node[], access: Access): Access {
  let result = access;
  for (let i = moves.length - 1; i >= 0; i--) result = moveBackward(result, moves[i]);
  return result;
}

/** Moves an access through `moves` in order. */
export function forwardThrough(moves: readonly Node[], access: Access): Access {
  return moves.reduce((result, node) => moveForward(result, node), access);
}

/** Drops size-1 fine dims and merges neighbours that are contiguous together. */
export function simplifyAccess(access: Access): Access {
  return {
    layers: access.layers.map((layer) => ({
      offset: layer.offset,
      axes: layer.axes.map((dims) => normalizeDims(dims)),
    })),
  };
}

/** True when the access is row-major over its whole buffer from element 0. */
export function isContiguous(access: Access): boolean {
  if (access.layers.length !== 1) return false;
  const [layer] = access.layers;
  const merged: Dim[] = [];
  for (const dim of layer.axes.flat()) {
    if (dim.size === 1) continue;
    const last = merged[merged.length - 1];
    if (last && last.stride === dim.size * dim.stride) {
      merged[merged.length - 1] = { size: last.size * dim.size, stride: dim.stride };
    } else merged.push(dim);
  }
  return layer.offset === 0 &&
    (merged.length === 0 || (merged.length === 1 && merged[0].stride === 1));
}

/** The element offset of a logical flat index (row-major over the access's shape), in JS. */
export function offsetOf(access: Access, flat: number): number {
  let index = flat;
  for (const layer of access.layers) {
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
