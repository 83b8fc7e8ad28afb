/**
 * Graph traversal and rebuilding: topological order, use lists, and a
 * memoized bottom-up rewrite that keeps unchanged subgraphs shared.
 */
import { type Graph, makeNode, type Node } from "./node.ts";

/** Every node reachable from the outputs, inputs before users, graph inputs first. */
export function topoOrder(graph: Graph): Node[] {
  const order: Node[] = [];
  const seen = new Set<Node>();
  for (const input of graph.inputs) {
    seen.add(input);
    order.push(input);
  }
  // Iterative DFS: deep ResNets would overflow a recursive one.
  for (const { node: root } of graph.outputs) {
    const stack: [Node, number][] = [[root, 0]];
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const [node, next] = top;
      if (seen.has(node) && next === 0) {
        stack.pop();
        continue;
      }
      if (next < node.inputs.length) {
        top[1]++;
        const child = node.inputs[next];
        if (!seen.has(child)) stack.push([child, 0]);
        continue;
      }
      stack.pop();
      seen.add(node);
      order.push(node);
    }
  }
  return order;
}

/** For every node, the nodes that read it (once per reading node). */
export function usersOf(graph: Graph): Map<Node, Node[]> {
  const users = new Map<Node, Node[]>();
  for (const node of topoOrder(graph)) {
    users.set(node, users.get(node) ?? []);
    for (const input of new Set(node.inputs)) {
      const list = users.get(input) ?? [];
      list.push(node);
      users.set(input, list);
    }
  }
  return users;
}

/** How many graph outputs name each node. */
export function outputUses(graph: Graph): Map<Node, number> {
  const uses = new Map<Node, number>();
  for (const { node } of graph.outputs) uses.set(node, (uses.get(node) ?? 0) + 1);
  return uses;
}

/**
 * Rebuilds a graph bottom-up. `rewrite` sees each node after its inputs were
 * rewritten (as `node` carrying the new inputs) and returns a replacement or
 * undefined to keep it. Nodes whose inputs did not change are kept as they are.
 */
export function rebuild(graph: Graph, rewrite: (node: Node) => Node | undefined): Graph {
  const mapped = new Map<Node, Node>();
  for (const node of topoOrder(graph)) {
    const inputs = node.inputs.map((input) => mapped.get(input) ?? input);
    const changed = inputs.some((input, i) => input !== node.inputs[i]);
    const current = changed ? makeNode(node.op, inputs, node.attrs, node.data) : node;
    mapped.set(node, rewrite(current) ?? current);
  }
  return {
    name: graph.name,
    inputs: graph.inputs.map((input) => mapped.get(input) as Node<"input">),
    outputs: graph.outputs.map(({ name, node }) => ({ name, node: mapped.get(node) ?? node })),
  };
}
