/**
 * Sums of branches, seen through reshapes. `reshape(a + b) = reshape(a) +
 * reshape(b)`, so a tree of same-shape adds, with views between them, is one
 * sum of leaves that all hold the same number of elements in the same
 * row-major order. merge-parallel-convs and conv-into-fc both rewrite such
 * sums: they replace some leaves and rebuild the rest.
 */
import { isReinterpret, makeNode, type Node, sameShape } from "../../ir/mod.ts";
import { type Uses, viewBase } from "./_rewrite.ts";

/** A maximal tree of same-shape adds and the leaves it sums. */
export interface Sum {
  readonly root: Node;
  /** The summed values, views stripped; a leaf appears once per time it is added. */
  readonly leaves: readonly Node[];
}

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
