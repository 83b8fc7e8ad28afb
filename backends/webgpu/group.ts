/**
 * Fusion decisions: which IR nodes one kernel computes. Every compute node
 * that no other kernel absorbed is the core of a kernel. From the core, the
 * kernel's chain runs forward through single-use nodes: movement ops (which
 * only change where the result is stored), unary ops, BatchNorm, and binary
 * ops whose other operand does not grow the shape (a residual add, a gate).
 * The chain's last node is the one value the kernel materializes.
 *
 * A GEMM (linear, convolution) may also take one elementwise producer as its
 * prologue, when that producer is used only by the GEMM through movement
 * ops: the GEMM computes it while loading A. This is how the RepMLP
 * global-perceptron add and the partition permute before fc3 vanish.
 *
 * Chains never cross a graph output, and every kernel keeps within the
 * storage-buffer binding budget.
 */
import { BINARY_OPS, type Graph, isView, type Node, sameShape, UNARY_OPS } from "../../ir/mod.ts";
import { outputUses, topoOrder, usersOf } from "../../ir/traverse.ts";

/** One kernel's worth of nodes. */
export interface Group {
  readonly core: Node;
  /** Nodes after the core, in order; the last one (or the core) is materialized. */
  readonly chain: readonly Node[];
  /** An elementwise producer computed while loading A, and the movement ops to the core. */
  readonly prologue?: { readonly node: Node; readonly path: readonly Node[] };
}

/** The node a group materializes. */
export function groupEnd(group: Group): Node {
  return group.chain.length > 0 ? group.chain[group.chain.length - 1] : group.core;
}

/** True for nodes an elementwise kernel can compute (BatchNorm counts). */
export function isElementwise(node: Node): boolean {
  return UNARY_OPS.has(node.op) || BINARY_OPS.has(node.op) || node.op === "batchnorm";
}

/** The node whose buffer a view reads. */
export function baseOf(node: Node): Node {
  let current = node;
  while (isView(current)) current = current.inputs[0];
  return current;
}

/** Groups the graph's compute nodes into kernels, in a topological order of the groups. */
export function groupNodes(graph: Graph, maxBindings: number): Group[] {
  const order = topoOrder(graph);
  const users = usersOf(graph);
  const outputs = outputUses(graph);
  const claimed = new Set<Node>();
  const singleUser = (node: Node) =>
    !outputs.has(node) && (users.get(node) ?? []).length === 1 ? users.get(node)![0] : undefined;

  // Prologue candidates: p -> the GEMM that would compute it.
  const prologueOf = new Map<Node, { node: Node; path: Node[] }>();
  const candidates = new Set<Node>();
  for (const node of order) {
    if (node.op !== "linear" && node.op !== "conv2d") continue;
    const path: Node[] = [];
    let current = node.inputs[0];
    while (isView(current) && singleUser(current) === (path[0] ?? node)) {
      path.unshift(current);
      current = current.inputs[0];
    }
    if (!isElementwise(current) || singleUser(current) !== (path[0] ?? node)) continue;
    const external = [...current.inputs, ...node.inputs.slice(1)];
    if (countBindings(external) + 1 > maxBindings) continue;
    prologueOf.set(node, { node: current, path });
    candidates.add(current);
  }

  const groups: Group[] = [];
  for (const node of order) {
    if (node.op === "input" || node.op === "weight" || isView(node) || claimed.has(node)) continue;
    if (candidates.has(node)) continue; // computed by its GEMM, unless a chain took it
    const external: Node[] = [];
    let prologue: Group["prologue"];
    const candidate = prologueOf.get(node);
    if (candidate && !claimed.has(candidate.node)) {
      prologue = candidate;
      claimed.add(candidate.node);
      external.push(...candidate.node.inputs, ...node.inputs.slice(1));
    } else external.push(...node.inputs);
    const chain: Node[] = [];
    let current: Node = node;
    while (node.op !== "concat") {
      const user = singleUser(current);
      if (!user || claimed.has(user)) break;
      if (isView(user)) {
        chain.push(user);
        current = user;
        continue;
      }
      if (!isElementwise(user) || !sameShape(user.type.shape, current.type.shape)) break;
      if (user.op === "batchnorm" && user.inputs.indexOf(current) !== 0) break;
      const others = user.inputs.filter((input) => input !== current);
      if (countBindings([...external, ...others]) + 1 > maxBindings) break;
      external.push(...others);
      chain.push(user);
      claimed.add(user);
      current = user;
    }
    groups.push({ core: node, chain, prologue });
  }
  return sortGroups(groups);
}

/** Distinct buffers the given external inputs read (views share their base's buffer). */
function countBindings(nodes: readonly Node[]): number {
  return new Set(nodes.map(baseOf)).size;
}

/** Orders groups so that each comes after the groups whose values it reads. */
function sortGroups(groups: Group[]): Group[] {
  const producer = new Map<Node, Group>();
  for (const group of groups) producer.set(groupEnd(group), group);
  const inside = (group: Group) =>
    new Set<Node>([group.core, ...group.chain, ...(group.prologue ? [group.prologue.node] : [])]);
  const sorted: Group[] = [];
  const state = new Map<Group, "visiting" | "done">();
  const visit = (root: Group) => {
    // Iterative DFS: deep networks would overflow a recursive one.
    const stack: [Group, Group[]][] = [];
    const push = (group: Group) => {
      state.set(group, "visiting");
      const own = inside(group);
      const deps = new Set<Group>();
      for (const node of own) {
        for (const input of node.inputs) {
          if (own.has(input)) continue;
          // The value read is the nearest materialized node along the views.
          let source = input;
          while (!producer.has(source) && isView(source)) source = source.inputs[0];
          const dep = producer.get(source);
          if (dep && dep !== group) deps.add(dep);
        }
      }
      stack.push([group, [...deps]]);
    };
    push(root);
    while (stack.length > 0) {
      const [group, deps] = stack[stack.length - 1];
      const next = deps.pop();
      if (next) {
        const seen = state.get(next);
        if (seen === "visiting") throw new Error("webgpu: fusion produced a cycle");
        if (!seen) push(next);
        continue;
      }
      stack.pop();
      state.set(group, "done");
      sorted.push(group);
    }
  };
  for (const group of groups) if (!state.has(group)) visit(group);
  return sorted;
}
