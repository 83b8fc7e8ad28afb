/**
 * The verifier: checks invariants that every pass must keep. Types agree with
 * the shape rules, graph inputs are declared once, output names are unique,
 * and weights hold the right number of finite values.
 */
import { RefoldError } from "./errors.ts";
import type { Graph, Node } from "./node.ts";
import { OPS } from "./ops/mod.ts";
import { describeNode } from "./printer.ts";
import { topoOrder } from "./traverse.ts";
import { sameShape, sizeOf } from "./types.ts";

/** Throws a RefoldError naming the first broken invariant; `where` prefixes the message. */
export function verifyGraph(graph: Graph, where = "verify"): void {
  const order = topoOrder(graph);
  const fail = (node: Node | undefined, problem: string): never => {
    const id = node ? `%${order.indexOf(node)} = ${describeNode(node)}: ` : "";
    throw new RefoldError(`${where}: ${id}${problem}`);
  };
  const declared = new Set<Node>(graph.inputs);
  const inputNames = new Set<string>();
  for (const input of graph.inputs) {
    if (input.op !== "input") fail(input, "graph input is not an input node");
    if (inputNames.has(input.attrs.name)) fail(input, "input name declared twice");
    inputNames.add(input.attrs.name);
  }
  const outputNames = new Set<string>();
  for (const { name } of graph.outputs) {
    if (outputNames.has(name)) fail(undefined, `output "${name}" declared twice`);
    outputNames.add(name);
  }
  if (graph.outputs.length === 0) fail(undefined, "graph has no outputs");
  for (const node of order) {
    if (node.op === "input" && !declared.has(node)) fail(node, "input is not a graph input");
    const inferred = OPS[node.op].shape(node.attrs as never, node.inputs.map((i) => i.type));
    if (!sameShape(inferred, node.type.shape)) {
      fail(node, `type does not match its shape rule, which gives [${inferred}]`);
    }
    if (node.op === "weight") {
      const data = node.data ?? fail(node, "weight has no data");
      if (data.length !== sizeOf(node.type.shape)) fail(node, `weight holds ${data.length} values`);
      const bad = data.findIndex((value) => !Number.isFinite(value));
      if (bad >= 0) fail(node, `weight value ${bad} is ${data[bad]}`);
    }
  }
}
