/**
 * Fusion decisions, made once for every target: which IR nodes one kernel
 * computes. Every compute node that no other kernel absorbed is the core of
 * a kernel. From the core, the kernel's chain runs forward through
 * single-use nodes: views (which only change where the result is stored),
 * unary ops, BatchNorm, and binary ops whose other operand does not grow
 * the shape (a bias, a residual add, a gate). The chain's last node is the
 * one value the kernel materializes.
 *
 * A GEMM (linear, conv) may also take a chain of elementwise producers as
 * its prologue, when each is used only by the next (the last only by the
 * GEMM, through views) and the target allows it: the GEMM computes them
 * while loading A. This is how the RepMLP global-perceptron add and the
 * partition permute before fc3 vanish, and a lowered BatchNorm (multiply,
 * add) in front of a convolution.
 *
 * Chains never cross a graph output, keep within the target's binding
 * budget, store only through views the target can address, and stop at
 * MAX_EXPR_SIZE expression nodes (a long elementwise chain becomes several
 * kernels, not one expression too deep to compile).
 */
import {
  BINARY_OPS,
  type Graph,
  isView,
  type Node,
  outputUses,
  sameShape,
  topoOrder,
  UNARY_OPS,
  usersOf,
} from "../../ir/mod.ts";
import type { TargetCaps } from "./caps.ts";
import { toIndexSpace } from "./space.ts";
import { backThrough, contiguous } from "./view.ts";

/** One kernel's worth of nodes. */
export interface Group {
  readonly core: Node;
  /** Nodes after the core, in order; the last one (or the core) is materialized. */
  readonly chain: readonly Node[];
  /**
   * Elementwise producers computed while loading A, the one the core reads
   * (through `path`, views) first, each next one an input of the one before.
   */
  readonly prologue?: { readonly nodes: readonly Node[]; readonly path: readonly Node[] };
}

/** The most expression nodes one kernel's epilogue may have. */
export const MAX_EXPR_SIZE = 64;

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

/** Expression nodes after fusing `user` onto an expression of `size` nodes computing `current`. */
function grownSize(size: number, user: Node, current: Node): number {
  if (UNARY_OPS.has(user.op)) return size + 1;
  // (x - mean) * (gamma / sqrt(var + eps)) + beta: 11 more nodes.
  if (user.op === "batchnorm") return size + 11;
  const uses = user.inputs.filter((input) => input === current).length;
  return uses === 2 ? 2 * size + 1 : size + 2;
}

interface Context {
  readonly caps: TargetCaps;
  readonly users: Map<Node, Node[]>;
  readonly outputs: Map<Node, number>;
}

/** The one node that reads `node`, when that is its only use. */
function singleUser(ctx: Context, node: Node): Node | undefined {
  const users = ctx.users.get(node) ?? [];
  return !ctx.outputs.has(node) && users.length === 1 ? users[0] : undefined;
}

/** True when the target can store `core`'s result in `end`'s layout after `moves`. */
function storable(ctx: Context, core: Node, moves: readonly Node[]): boolean {
  if (!Number.isFinite(ctx.caps.viewLayers)) return true;
  const end = moves.length > 0 ? moves[moves.length - 1] : core;
  const view = toIndexSpace(core, backThrough(moves, contiguous(end.type.shape)));
  return view.layers.length <= ctx.caps.viewLayers;
}

/** The producer of `top` a prologue can take next: elementwise, same shape, used only by `top`. */
function innerProducer(ctx: Context, top: Node): Node | undefined {
  const main = top.op === "batchnorm" ? [top.inputs[0]] : top.inputs;
  return main.find((input) =>
    isElementwise(input) && singleUser(ctx, input) === top &&
    sameShape(input.type.shape, top.type.shape)
  );
}

/** Prologue candidates: GEMM -> the elementwise producers it would compute. */
function prologues(ctx: Context, order: readonly Node[]) {
  const found = new Map<Node, { nodes: Node[]; path: Node[] }>();
  for (const node of order) {
    const kind = node.op === "linear" ? "linear" : node.op === "conv2d" ? "conv" : undefined;
    if (!kind || !ctx.caps.prologue.has(kind)) continue;
    const path: Node[] = [];
    let current = node.inputs[0];
    while (isView(current) && singleUser(ctx, current) === (path[0] ?? node)) {
      path.unshift(current);
      current = current.inputs[0];
    }
    if (!isElementwise(current) || singleUser(ctx, current) !== (path[0] ?? node)) continue;
    const nodes = [current];
    // Each producer adds its op and a load per other input (at most 3 + 11 for a BatchNorm).
    let size = 3;
    for (let inner = innerProducer(ctx, current); inner; inner = innerProducer(ctx, inner)) {
      size = grownSize(size, inner, current);
      if (size > MAX_EXPR_SIZE) break;
      nodes.push(inner);
    }
    // Drop the innermost producers until the kernel's reads fit its bindings.
    while (nodes.length > 0) {
      const inside = new Set(nodes);
      const external = [...nodes.flatMap((n) => n.inputs), ...node.inputs.slice(1)];
      if (
        countBindings(external.filter((input) => !inside.has(input))) + 1 <= ctx.caps.maxBindings
      ) {
        break;
      }
      nodes.pop();
    }
    if (nodes.length > 0) found.set(node, { nodes, path });
  }
  return found;
}

/** Groups the graph's compute nodes into kernels, in a topological order of the groups. */
export function groupNodes(graph: Graph, caps: TargetCaps): Group[] {
  const order = topoOrder(graph);
  const ctx: Context = { caps, users: usersOf(graph), outputs: outputUses(graph) };
  const claimed = new Set<Node>();
  const prologueOf = prologues(ctx, order);
  const candidates = new Set([...prologueOf.values()].flatMap((candidate) => candidate.nodes));
  const groups: Group[] = [];
  for (const node of order) {
    if (node.op === "input" || node.op === "weight" || isView(node) || claimed.has(node)) continue;
    if (candidates.has(node)) continue; // computed by its GEMM, unless a chain took it
    const external: Node[] = [];
    const prologue = unclaimed(prologueOf.get(node), claimed);
    if (prologue) {
      const inside = new Set(prologue.nodes);
      for (const taken of prologue.nodes) claimed.add(taken);
      const reads = prologue.nodes.flatMap((taken) => taken.inputs);
      external.push(...reads.filter((input) => !inside.has(input)), ...node.inputs.slice(1));
    } else external.push(...node.inputs);
    const chain = node.op === "concat" ? [] : chainOf(ctx, node, external, claimed);
    groups.push({ core: node, chain, prologue });
  }
  return sortGroups(groups);
}

/**
 * The part of a prologue that no earlier kernel's chain took. Chains run
 * from producer to consumer, so what they take is the innermost part.
 */
function unclaimed(
  candidate: Group["prologue"],
  claimed: ReadonlySet<Node>,
): Group["prologue"] {
  if (!candidate) return undefined;
  const free = candidate.nodes.findIndex((node) => claimed.has(node));
  const nodes = free < 0 ? candidate.nodes : candidate.nodes.slice(0, free);
  return nodes.length > 0 ? { nodes, path: candidate.path } : undefined;
}

/** The chain after `core`, claiming its elementwise nodes. */
function chainOf(ctx: Context, core: Node, external: Node[], claimed: Set<Node>): Node[] {
  const chain: Node[] = [];
  let moves: Node[] = [];
  let current = core, size = 3;
  for (;;) {
    const user = singleUser(ctx, current);
    if (!user || claimed.has(user)) break;
    if (isView(user)) {
      if (moves.length >= MAX_EXPR_SIZE || !storable(ctx, core, [...moves, user])) break;
      chain.push(user);
      moves = [...moves, user];
      current = user;
      continue;
    }
    if (!isElementwise(user) || !sameShape(user.type.shape, current.type.shape)) break;
    if (user.op === "batchnorm" && user.inputs.indexOf(current) !== 0) break;
    const grown = grownSize(size, user, current);
    if (grown > MAX_EXPR_SIZE) break;
    const others = user.inputs.filter((input) => input !== current);
    if (countBindings([...external, ...others]) + 1 > ctx.caps.maxBindings) break;
    external.push(...others);
    chain.push(user);
    claimed.add(user);
    current = user;
    size = grown;
  }
  return chain;
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
    new Set<Node>([group.core, ...group.chain, ...(group.prologue?.nodes ?? [])]);
  const sorted: Group[] = [];
  const state = new Map<Group, "visiting" | "done">();
  const dependencies = (group: Group): Group[] => {
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
    return [...deps];
  };
  // Iterative DFS: deep graphs would overflow a recursive one.
  for (const root of groups) {
    if (state.has(root)) continue;
    state.set(root, "visiting");
    const stack: [Group, Group[]][] = [[root, dependencies(root)]];
    while (stack.length > 0) {
      const [group, deps] = stack[stack.length - 1];
      const next = deps.pop();
      if (next) {
        const seen = state.get(next);
        if (seen === "visiting") throw new Error("internal: fusion produced a cycle");
        if (!seen) {
          state.set(next, "visiting");
          stack.push([next, dependencies(next)]);
        }
        continue;
      }
      stack.pop();
      state.set(group, "done");
      sorted.push(group);
    }
  }
  return sorted;
}
