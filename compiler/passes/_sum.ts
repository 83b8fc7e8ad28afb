/**
 * Sums of branches, seen through reshapes, and the one driver of the passes
 * that rewrite them (merge-parallel-convs, conv-into-fc, group-fc).
 * `reshape(a + b) = reshape(a) + reshape(b)`, so a tree of same-shape adds,
 * with views between them, is one sum of leaves that all hold the same
 * number of elements in the same row-major order. A pass says only how to
 * rewrite one sum; the driver finds the sums, hands each to it with the
 * input graph's uses and names, and applies the new values in one rebuild.
 */
import { type Graph, isReinterpret, makeNode, type Node, sameShape } from "../../ir/mod.ts";
import type { PassContext } from "../pass.ts";
import { NameTable } from "./_names.ts";
import { substitute, Uses, viewBase } from "./_rewrite.ts";

/** A maximal tree of same-shape adds and the leaves it sums. */
export interface Sum {
  readonly root: Node;
  /** The summed values, views stripped; a leaf appears once per time it is added. */
  readonly leaves: readonly Node[];
}

/** What a sum rewrite may use: the input graph's uses, fresh weight names, --explain. */
export interface SumEnv {
  readonly uses: Uses;
  readonly names: NameTable;
  readonly context: PassContext;
}

/** Rewrites one sum: the value that replaces its root, or undefined to leave it as it is. */
export type SumRewrite = (sum: Sum, env: SumEnv) => Node | undefined;

/** An add without broadcasting. */
function isPlainAdd(node: Node): boolean {
  return node.op === "add" &&
    node.inputs.every((input) => sameShape(input.type.shape, node.type.shape));
}

/** True when `add` is an inner node of a larger sum: its value is used only there. */
function absorbed(add: Node, uses: Uses): boolean {
  let node = add;
  while (uses.only(node)) {
    const user = uses.users(node)[0];
    if (isPlainAdd(user)) return true;
    if (!isReinterpret(user)) return false;
    node = user;
  }
  return false;
}

/** Every sum of the graph, roots in topological order. */
export function findSums(uses: Uses): Sum[] {
  const sums: Sum[] = [];
  for (const node of uses.order) {
    if (!isPlainAdd(node) || absorbed(node, uses)) continue;
    const leaves: Node[] = [];
    const stack = [...node.inputs].reverse();
    while (stack.length > 0) {
      let current = stack.pop()!;
      while (isReinterpret(current) && uses.only(current)) current = current.inputs[0];
      if (isPlainAdd(current) && uses.only(current)) stack.push(...[...current.inputs].reverse());
      else leaves.push(viewBase(current));
    }
    sums.push({ root: node, leaves });
  }
  return sums;
}

/** Rewrites every sum of `graph` with `rewrite`; the graph itself is left untouched. */
export function rewriteSums(graph: Graph, context: PassContext, rewrite: SumRewrite): Graph {
  const env: SumEnv = { uses: new Uses(graph), names: new NameTable(graph), context };
  const plan = new Map<Node, Node>();
  for (const sum of findSums(env.uses)) {
    const value = rewrite(sum, env);
    if (value) plan.set(sum.root, value);
  }
  return substitute(graph, plan);
}

/** `node` viewed with `shape` (itself when the shape already fits). */
export function viewAs(node: Node, shape: readonly number[]): Node {
  return sameShape(node.type.shape, shape)
    ? node
    : makeNode("reshape", [node], { shape: [...shape] });
}

/** The sum of `leaves`, in their order, with the shape `shape`. */
export function buildSum(leaves: readonly Node[], shape: readonly number[]): Node {
  let sum = viewAs(leaves[0], shape);
  for (const leaf of leaves.slice(1)) sum = makeNode("add", [sum, viewAs(leaf, shape)], {});
  return sum;
}
