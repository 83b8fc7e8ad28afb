/**
 * Model statistics for the CLI summary: op counts, parameters, FLOPs and
 * weight bytes, counted over the nodes reachable from the outputs.
 */
import type { Graph, Node } from "./node.ts";
import { OPS } from "./ops/mod.ts";
import { topoOrder } from "./traverse.ts";
import { DTYPE_BYTES, sizeOf } from "./types.ts";

/** Counts describing one graph. */
export interface GraphSummary {
  /** Nodes per op, weights and inputs excluded. */
  readonly ops: Readonly<Record<string, number>>;
  readonly parameters: number;
  readonly flops: number;
  readonly weightBytes: number;
}

/** FLOPs of one evaluation of `node` (0 for inputs and weights), from its op's cost rule. */
export function nodeFlops(node: Node): number {
  return OPS[node.op].flops(
    node.attrs as never,
    node.inputs.map((input) => input.type),
    node.type.shape,
  );
}

/** Summarizes a graph. */
export function summarize(graph: Graph): GraphSummary {
  const ops: Record<string, number> = {};
  let parameters = 0, flops = 0, weightBytes = 0;
  for (const node of topoOrder(graph)) {
    if (node.op === "weight") {
      const size = sizeOf(node.type.shape);
      parameters += size;
      weightBytes += size * DTYPE_BYTES[node.type.dtype];
      continue;
    }
    if (node.op === "input") continue;
    ops[node.op] = (ops[node.op] ?? 0) + 1;
    flops += nodeFlops(node);
  }
  return { ops, parameters, flops, weightBytes };
}
