/**
 * Constant folding, defined once: a node whose inputs are all weights is
 * evaluated at compile time with its op's reference semantics (float64) and
 * rounded to float32 once. canonicalize folds this way, ONNX import folds
 * shape arithmetic this way, and backends may assume that a deployed graph
 * holds no constant-only node (see verifyDeployed).
 */
import { makeWeight, type Node } from "./node.ts";
import { evaluateNode } from "./interpret.ts";
import { rebuild } from "./traverse.ts";
import type { Graph } from "./node.ts";

/** True when `node` computes something from weights alone, so its value is known now. */
export function isConstantOnly(node: Node): boolean {
  return node.inputs.length > 0 && node.inputs.every((input) => input.op === "weight");
}

/** The float32 value of a constant-only node (see isConstantOnly). */
export function foldNode(node: Node): Float32Array {
  const tensors = node.inputs.map((input) => {
    if (input.op !== "weight") {
      throw new Error(`internal: folding ${node.op} over a computed input`);
    }
    return { shape: input.type.shape, data: input.data! };
  });
  return Float32Array.from(evaluateNode(node, tensors));
}

/**
 * The graph with every constant-only node replaced by a weight, bottom-up,
 * so whole constant subgraphs fold. `nameOf` names each new weight.
 */
export function foldConstants(graph: Graph, nameOf: (node: Node) => string): Graph {
  return rebuild(graph, (node) => {
    if (!isConstantOnly(node)) return undefined;
    return makeWeight(nameOf(node), node.type.shape, foldNode(node));
  });
}
