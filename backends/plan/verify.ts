/**
 * verifyDeployed: what the code-generating targets (wasm, webgpu) require of
 * the graph they are given, checked once at the backend boundary. The pass
 * pipeline establishes it; a graph that skipped passes (`--passes none`)
 * is refused here with the node and the pass that would fix it, instead of
 * being rewritten by each backend on its own.
 *
 * A deployed graph is a well-typed graph (verifyGraph) in which
 * - no node computes from weights alone: canonicalize folds those;
 * - no batchnorm has constant statistics: fold-batchnorm and
 *   lower-batchnorm remove those (one with computed statistics is fine);
 * - no flatten remains: canonicalize makes it a reshape;
 * - every tensor is f32.
 */
import {
  describeNode,
  type Graph,
  isConstantOnly,
  type Node,
  RefoldError,
  topoOrder,
  verifyGraph,
} from "../../ir/mod.ts";

/** Why `node` is not in deployed form, or undefined when it is. */
function problemOf(node: Node): string | undefined {
  if (node.type.dtype !== "f32") return `its type is ${node.type.dtype}; only f32 is supported`;
  if (isConstantOnly(node)) {
    return "it is computed from weights alone; canonicalize folds it into a weight";
  }
  if (node.op === "batchnorm" && node.inputs.slice(1).every((param) => param.op === "weight")) {
    return "its statistics are constants; fold-batchnorm or lower-batchnorm removes it";
  }
  if (node.op === "flatten") return "flatten is not deployed form; canonicalize makes it a reshape";
  return undefined;
}

/**
 * Throws a RefoldError naming the first node that is not in deployed form
 * (as `%index = op(types)`, the IR text's numbering) and the pass that
 * would fix it; `target` prefixes the message.
 */
export function verifyDeployed(graph: Graph, target: string): void {
  verifyGraph(graph, target);
  const order = topoOrder(graph);
  for (let index = 0; index < order.length; index++) {
    const problem = problemOf(order[index]);
    if (problem === undefined) continue;
    throw new RefoldError(
      `${target}: graph ${JSON.stringify(graph.name)} is not deployed: ` +
        `%${index} = ${describeNode(order[index])}: ${problem}`,
    );
  }
}
