/**
 * Constant folding, defined once: a node whose inputs are all weights is
 * evaluated at compile time with its op's reference semantics (float64) and
 * rounded to float32 once. canonicalize folds this way, ONNX import folds
 * shape arithmetic this way, and backends may assume that a deployed graph
 * holds no constant-only node (see verifyDeployed).
 */
import { RefoldError } from "./errors.ts";
import { makeWeight, type Node } from "./node.ts";
import { describeNode } from "./printer.ts";
import { sizeOf } from "./types.ts";
import { evaluateNode } from "./interpret.ts";
import { rebuild } from "./traverse.ts";
import type { Graph } from "./node.ts";

/** True when `node` computes something from weights alone, so its value is known now. */
export function isConstantOnly(node: Node): boolean {
  return node.inputs.length > 0 && node.inputs.every((input) => input.op === "weight");
}

/**
 * Values a folded constant may hold (8 MiB in float64) unless an input it is
 * computed from holds as many: folding a weight (a transpose, a scale) is
 * fine at any size, but a small file must not expand into gigabytes.
 */
export const MAX_FOLDED_VALUES = 2 ** 20;

/** Why folding `node` is refused (it would grow past MAX_FOLDED_VALUES), or undefined. */
export function foldSizeProblem(node: Node): string | undefined {
  const values = sizeOf(node.type.shape);
  const largest = node.inputs.reduce((most, input) => Math.max(most, sizeOf(input.type.shape)), 0);
  if (values <= Math.max(MAX_FOLDED_VALUES, largest)) return undefined;
  return `folding ${describeNode(node)} would make a constant of ${values} values from inputs of ` +
    `at most ${largest}; refold folds constants of up to ${MAX_FOLDED_VALUES} values ` +
    "unless an input is as large";
}

/** The float32 value of a constant-only node (see isConstantOnly); refuses absurd growth. */
export function foldNode(node: Node): Float32Array {
  const problem = foldSizeProblem(node);
  if (problem) throw new RefoldError(problem);
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
