/**
 * The plan-then-apply shape shared by the passes: a pass inspects the input
 * graph (so --explain can name its nodes), records replacements in a plan,
 * and `substitute` applies the plan in one rebuild. Replacements are written
 * over nodes of the input graph and may read nodes that are replaced too.
 */
import {
  type Graph,
  isReinterpret,
  makeNode,
  type Node,
  outputUses,
  topoOrder,
  usersOf,
} from "../../ir/mod.ts";

/** Use counts of the input graph, for the "nothing else reads it" guards. */
export class Uses {
  readonly order: Node[];
  readonly #users: Map<Node, Node[]>;
  readonly #outputs: Map<Node, number>;

  constructor(readonly graph: Graph) {
    this.order = topoOrder(graph);
    this.#users = usersOf(graph);
    this.#outputs = outputUses(graph);
  }

  /** The nodes reading `node` (each once). */
  users(node: Node): readonly Node[] {
    return this.#users.get(node) ?? [];
  }

  /** True when exactly one node reads `node` and no graph output names it. */
  only(node: Node): boolean {
    return this.users(node).length === 1 && !this.#outputs.has(node);
  }

  /** True when a graph output names `node`. */
  isOutput(node: Node): boolean {
    return this.#outputs.has(node);
  }
}

/** The values of a constant input, or undefined when it is computed. */
export function constant(node: Node | undefined): Float32Array | undefined {
  return node?.op === "weight" ? node.data : undefined;
}

/** The node whose data `node` views, looking through reshapes and flattens. */
export function viewBase(node: Node): Node {
  while (isReinterpret(node)) node = node.inputs[0];
  return node;
}

/**
 * Applies `plan` to `graph`: every use of a key becomes a use of its value,
 * and nodes whose inputs changed are rebuilt. Unchanged subgraphs keep their
 * identity, so an empty plan returns the graph's own nodes.
 */
export function substitute(graph: Graph, plan: ReadonlyMap<Node, Node>): Graph {
  if (plan.size === 0) return graph;
  const mapped = new Map<Node, Node>();
  const visiting = new Set<Node>();
  const dependencies = (node: Node): readonly Node[] => {
    const target = plan.get(node);
    return target !== undefined && target !== node ? [target] : node.inputs;
  };
  // Iterative post-order: deep networks would overflow a recursive walk.
  const resolve = (root: Node): Node => {
    const stack: Node[] = [root];
    while (stack.length > 0) {
      const node = stack[stack.length - 1];
      if (mapped.has(node)) {
        stack.pop();
        continue;
      }
      const pending = dependencies(node).filter((input) => !mapped.has(input));
      if (pending.length > 0 && !visiting.has(node)) {
        visiting.add(node);
        stack.push(...pending);
        continue;
      }
      if (pending.length > 0) throw new Error(`internal: plan has a cycle at ${node.op}`);
      visiting.delete(node);
      stack.pop();
      const target = plan.get(node);
      if (target !== undefined && target !== node) {
        mapped.set(node, mapped.get(target)!);
        continue;
      }
      const inputs = node.inputs.map((input) => mapped.get(input)!);
      const same = inputs.every((input, i) => input === node.inputs[i]);
      mapped.set(node, same ? node : makeNode(node.op, inputs, node.attrs, node.data));
    }
    return mapped.get(root)!;
  };
  return {
    name: graph.name,
    inputs: graph.inputs,
    outputs: graph.outputs.map(({ name, node }) => ({ name, node: resolve(node) })),
  };
}

/** True when some output of `after` is a different node from the same output of `before`. */
export function graphChanged(before: Graph, after: Graph): boolean {
  return before.outputs.length !== after.outputs.length ||
    before.outputs.some(({ node }, i) => node !== after.outputs[i].node) ||
    before.inputs.some((input, i) => input !== after.inputs[i]);
}
