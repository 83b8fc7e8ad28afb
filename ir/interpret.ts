/**
 * The reference interpreter: runs a graph with each op's reference semantics
 * in float64. It is the ground truth that passes and backends are checked
 * against, so it favours clarity over speed, and frees each intermediate
 * result after its last use so that full networks fit in memory.
 */
import { RefoldError } from "./errors.ts";
import type { Graph, Node } from "./node.ts";
import { OPS } from "./ops/mod.ts";
import type { Tensor, TensorData } from "./tensor.ts";
import { topoOrder } from "./traverse.ts";
import { sizeOf } from "./types.ts";

/** Evaluates one node on given input values; used by constant folding too. */
export function evaluateNode(node: Node, inputs: readonly Tensor[]): Float64Array {
  if (node.op === "weight") return Float64Array.from(node.data!);
  return OPS[node.op].evaluate(node.attrs as never, inputs, node.type.shape);
}

/** Runs `graph` on named inputs and returns the named outputs in float64. */
export function interpret(
  graph: Graph,
  feeds: Readonly<Record<string, TensorData>>,
): Record<string, Float64Array> {
  const order = topoOrder(graph);
  const remainingUses = new Map<Node, number>();
  for (const node of order) {
    for (const input of node.inputs) remainingUses.set(input, (remainingUses.get(input) ?? 0) + 1);
  }
  for (const { node } of graph.outputs) remainingUses.set(node, Infinity);
  const values = new Map<Node, Tensor>();
  for (const node of order) {
    let data: TensorData;
    if (node.op === "input") {
      const name = node.attrs.name;
      const fed = feeds[name];
      if (!fed) throw new RefoldError(`input "${name}" was not given`);
      if (fed.length !== sizeOf(node.type.shape)) {
        throw new RefoldError(
          `input "${name}" has ${fed.length} values, its shape [${node.type.shape}] needs ${
            sizeOf(node.type.shape)
          }`,
        );
      }
      data = fed;
    } else if (node.op === "weight") {
      data = node.data!;
    } else {
      data = evaluateNode(node, node.inputs.map((input) => values.get(input)!));
    }
    values.set(node, { shape: node.type.shape, data });
    for (const input of node.inputs) {
      const left = remainingUses.get(input)! - 1;
      remainingUses.set(input, left);
      if (left === 0) values.delete(input);
    }
  }
  const result: Record<string, Float64Array> = {};
  for (const { name, node } of graph.outputs) {
    const data = values.get(node)!.data;
    result[name] = data instanceof Float64Array ? data : Float64Array.from(data);
  }
  return result;
}
