/**
 * Packs a graph's weights into one little-endian f32 blob (weights.bin),
 * 16-byte aligned so that every backend can view each weight in place.
 */
import { type Graph, type Node, topoOrder } from "../ir/mod.ts";

/** A packed weight: where it starts in the blob and its shape. */
export interface PackedWeight {
  readonly offset: number;
  readonly shape: readonly number[];
}

/** The blob and the place of every weight node in it. */
export interface WeightPack {
  readonly bytes: Uint8Array;
  readonly slots: ReadonlyMap<Node, PackedWeight>;
  /** Weight nodes in blob order. */
  readonly order: readonly Node[];
}

const ALIGN = 16;

/** Packs `nodes` (default: every weight reachable in `graph`, in topological order). */
export function packWeights(graph: Graph, nodes?: readonly Node[]): WeightPack {
  const order = nodes ?? topoOrder(graph).filter((node) => node.op === "weight");
  const slots = new Map<Node, PackedWeight>();
  let size = 0;
  for (const node of order) {
    slots.set(node, { offset: size, shape: node.type.shape });
    size += Math.ceil(node.data!.byteLength / ALIGN) * ALIGN;
  }
  const bytes = new Uint8Array(size);
  for (const node of order) {
    const data = node.data!;
    bytes.set(
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      slots.get(node)!.offset,
    );
  }
  return { bytes, slots, order };
}

/** Base64 of bytes, for weights small enough to embed in model.js. */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
