/**
 * What --f16 costs in accuracy, estimated on the CPU at compile time: the
 * deployed graph evaluated in float64 with every weight and every stored
 * intermediate rounded to f16 (as a shader-f16 device stores them; graph
 * inputs and outputs stay f32), against the same graph unrounded, on seeded
 * inputs. Large graphs are skipped: the reference interpreter is slow.
 */
import {
  evaluateNode,
  type Graph,
  interpret,
  type Node,
  sizeOf,
  summarize,
  type Tensor,
  topoOrder,
  uniform,
} from "../../ir/mod.ts";
import { fromHalf, toHalf } from "./runtime/f16.ts";

/** Graphs above this many FLOPs are not evaluated. */
export const F16_ESTIMATE_MAX_FLOPS = 4e8;

function roundHalf(data: ArrayLike<number>): Float64Array {
  return Float64Array.from(data, (value) => fromHalf(toHalf(value)));
}

/** Max over outputs of max|f16 - f32| / max|f32|, or undefined for graphs too large to evaluate. */
export function estimateF16Error(graph: Graph): number | undefined {
  if (summarize(graph).flops > F16_ESTIMATE_MAX_FLOPS) return undefined;
  const feeds: Record<string, Float32Array> = {};
  graph.inputs.forEach((input, i) => {
    feeds[input.attrs.name] = uniform(sizeOf(input.type.shape), 1000 + i, -1, 1);
  });
  const reference = interpret(graph, feeds);
  const outputs = new Set(graph.outputs.map(({ node }) => node));
  const values = new Map<Node, Tensor>();
  for (const node of topoOrder(graph)) {
    let data: Float64Array | Float32Array;
    if (node.op === "input") data = feeds[node.attrs.name];
    else if (node.op === "weight") data = roundHalf(node.data!);
    else {
      const result = evaluateNode(node, node.inputs.map((input) => values.get(input)!));
      data = outputs.has(node) ? result : roundHalf(result);
    }
    values.set(node, { shape: node.type.shape, data });
  }
  let worst = 0;
  for (const { name, node } of graph.outputs) {
    const actual = values.get(node)!.data, expected = reference[name];
    let diff = 0, scale = 0;
    for (let i = 0; i < expected.length; i++) {
      diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
      scale = Math.max(scale, Math.abs(expected[i]));
    }
    worst = Math.max(worst, scale === 0 ? diff : diff / scale);
  }
  return worst;
}
