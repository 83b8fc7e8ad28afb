/**
 * Target legalization before lowering: every node whose inputs are all
 * constants is evaluated once, here, with the reference semantics (float64,
 * rounded to float32), so kernels only ever see weights or computed tensors.
 * This is what lets `linear(x, transpose(W))` pack W at load like any weight.
 */
import {
  describeNode,
  evaluateNode,
  type Graph,
  makeWeight,
  type Node,
  rebuild,
} from "../../ir/mod.ts";

/** The graph with constant subexpressions replaced by weights. */
export function foldConstants(graph: Graph): Graph {
  let counter = 0;
  return rebuild(graph, (node: Node) => {
    if (node.op === "weight" || node.op === "input") return undefined;
    if (!node.inputs.every((input) => input.op === "weight")) return undefined;
    const tensors = node.inputs.map((input) => ({ shape: input.type.shape, data: input.data! }));
    const data = Float32Array.from(evaluateNode(node, tensors));
    return makeWeight(`folded${counter++}:${describeNode(node)}`, node.type.shape, data);
  });
}
