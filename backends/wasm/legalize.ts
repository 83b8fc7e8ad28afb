/**
 * Target legalization before lowering: every node whose inputs are all
 * constants is evaluated once, here, with the reference semantics (float64,
 * rounded to float32), so kernels only ever see weights or computed tensors.
 * This is what lets `linear(x, transpose(W))` pack W at load like any weight.
 */
import { describeNode, foldConstants as foldGraphConstants, type Graph } from "../../ir/mod.ts";

/** The graph with constant subexpressions replaced by weights. */
export function foldConstants(graph: Graph): Graph {
  let counter = 0;
  return foldGraphConstants(graph, (node) => `folded${counter++}:${describeNode(node)}`);
}
