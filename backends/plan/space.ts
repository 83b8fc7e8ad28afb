/**
 * The index space of the kernel a core node starts: the shape its epilogue
 * and store are written over. Linear layers use [rows, features] (leading
 * axes merged), convolutions [batch, outC, outH * outW], everything else the
 * node's own shape. Both are merges of the output's axes, so a view that is
 * one layer over the output shape stays one layer over the index space.
 */
import { type Node, sizeOf } from "../../ir/mod.ts";
import { reshapeView, type View } from "./view.ts";

/** The index space of `core`'s kernel. */
export function indexSpace(core: Node): readonly number[] {
  const shape = core.type.shape;
  if (core.op === "linear") {
    const features = shape[shape.length - 1];
    return [sizeOf(shape) / features, features];
  }
  if (core.op === "conv2d") return [shape[0], shape[1], shape[2] * shape[3]];
  return shape;
}

/** `view`, over `core`'s output shape, as a view over its index space. */
export function toIndexSpace(core: Node, view: View): View {
  return core.op === "linear" || core.op === "conv2d" ? reshapeView(view, indexSpace(core)) : view;
}
