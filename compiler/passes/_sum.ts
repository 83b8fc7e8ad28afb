/**
 * Sums of branches, seen through reshapes, and the one driver of the passes
 * that rewrite them (merge-parallel-convs, conv-into-fc, group-fc).
 *
 *   reshape(a + b) = reshape(a) + reshape(b),   a - b = a + (-1) b
 *
 * so a tree of same-shape adds and subtracts, with views between them, is one
 * signed sum of leaves that all hold the same number of elements in the same
 * row-major order. A pass says only how to rewrite one sum; the driver finds
 * the sums, hands each to it with the input graph's uses and names, and
 * applies the new values in one rebuild. Outer sums go first: a rewrite may
 * dissolve a sum nested inside one of its branches (a layer scale times a
 * difference of branches), and that inner sum is then not rewritten again.
 */
import { type Graph, isReinterpret, makeNode, type Node, sameShape } from "../../ir/mod.ts";
import type { PassContext } from "../pass.ts";
import { NameTable } from "./_names.ts";
import { substitute, Uses, viewBase } from "./_rewrite.ts";

/** One summed value: +1 * node or -1 * node. */
export interface Term {
  readonly node: Node;
  readonly sign: 1 | -1;
}

/** A maximal tree of same-shape adds and subtracts and the signed leaves it sums. */
export interface Sum {
  readonly root: Node;
  /** The summed values, views stripped; a leaf appears once per time it is summed. */
  readonly terms: readonly Term[];
}

/** What a sum rewrite may use: the input graph's uses, fresh weight names, --explain. */
export interface SumEnv {
  readonly uses: Uses;
  readonly names: NameTable;
  readonly context: PassContext;
}

/** A sum's new value, and the nodes of other sums it made dead (so they are left alone). */
export interface SumRewriteResult {
  readonly value: Node;
  readonly dissolved?: Iterable<Node>;
}

/** Rewrites one sum, or returns undefined to leave it as it is. */
export type SumRewrite = (sum: Sum, env: SumEnv) => Node | SumRewriteResult | undefined;

/** An add or subtract without broadcasting. */
function isPlainSum(node: Node): node is Node<"add" | "sub"> {
  return (node.op === "add" || node.op === "sub") &&
    node.inputs.every((input) => sameShape(input.type.shape, node.type.shape));
}

/** True when `node` is an inner node of a larger sum: its value is used only there. */
function absorbed(node: Node, uses: Uses): boolean {
  let current = node;
  while (uses.only(current)) {
    const user = uses.users(current)[0];
    if (isPlainSum(user)) return true;
    if (!isReinterpret(user)) return false;
    current = user;
  }
  return false;
}

/** Every sum of the graph, roots in topological order. */
export function findSums(uses: Uses): Sum[] {
  const sums: Sum[] = [];
  for (const node of uses.order) {
    if (!isPlainSum(node) || absorbed(node, uses)) continue;
    const terms: Term[] = [];
    const stack: Term[] = [{ node, sign: 1 }];
    while (stack.length > 0) {
      const { node: top, sign } = stack.pop()!;
      let current = top;
      while (isReinterpret(current) && uses.only(current)) current = current.inputs[0];
      if (isPlainSum(current) && (current === node || uses.only(current))) {
        const [a, b] = current.inputs;
        const second = current.op === "sub" ? -sign as 1 | -1 : sign;
        stack.push({ node: b, sign: second }, { node: a, sign });
      } else terms.push({ node: viewBase(current), sign });
    }
    sums.push({ root: node, terms });
  }
  return sums;
}

/** Rewrites every sum of `graph` with `rewrite`; the graph itself is left untouched. */
export function rewriteSums(graph: Graph, context: PassContext, rewrite: SumRewrite): Graph {
  const env: SumEnv = { uses: new Uses(graph), names: new NameTable(graph), context };
  const plan = new Map<Node, Node>();
  const dissolved = new Set<Node>();
  for (const sum of findSums(env.uses).reverse()) {
    if (dissolved.has(sum.root)) continue;
    const result = rewrite(sum, env);
    if (!result) continue;
    const { value, dissolved: dead = [] } = "value" in result ? result : { value: result };
    plan.set(sum.root, value);
    for (const node of dead) dissolved.add(node);
  }
  return substitute(graph, plan);
}

/** `node` viewed with `shape` (itself when the shape already fits). */
export function viewAs(node: Node, shape: readonly number[]): Node {
  return sameShape(node.type.shape, shape)
    ? node
    : makeNode("reshape", [node], { shape: [...shape] });
}

/** The signed sum of `terms`, positive terms first, with the shape `shape`. */
export function buildSum(terms: readonly Term[], shape: readonly number[]): Node {
  const ordered = [...terms.filter((t) => t.sign > 0), ...terms.filter((t) => t.sign < 0)];
  if (ordered.length === 0 || ordered[0].sign < 0) {
    throw new Error("internal: a rebuilt sum needs a positive term");
  }
  let sum = viewAs(ordered[0].node, shape);
  for (const { node, sign } of ordered.slice(1)) {
    sum = makeNode(sign > 0 ? "add" : "sub", [sum, viewAs(node, shape)], {});
  }
  return sum;
}

/** `terms` of plain nodes, all positive. */
export const positive = (nodes: readonly Node[]): Term[] =>
  nodes.map((node) => ({ node, sign: 1 }));
