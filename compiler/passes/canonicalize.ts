/**
 * canonicalize: rewrites that change how a computation is written, never what
 * it computes, so that the other passes match one form of each structure.
 * Each rule holds one identity (see _canonical_rules.ts, one comment per rule):
 *
 *   op(w1, w2, ...)                  -> w        evaluated with the op's reference semantics
 *   reshape(w) / flatten(w)          -> w'       same data, new shape (no copy)
 *   flatten(x, a)                    -> reshape(x, [prod(..a), prod(a..)])
 *   reshape(reshape(x, s1), s2)      -> reshape(x, s2)
 *   reshape(x, shape(x))             -> x
 *   transpose(x, [0, 1, ...])        -> x
 *   transpose(transpose(x, p), q)    -> transpose(x, p[q[i]])
 *   transpose moving only size-1 axes -> reshape
 *   relu(reshape(x)) (any unary op)  -> reshape(relu(x))
 *   x + 0, 0 + x, x - 0, x * 1, 1 * x, x / 1 -> x   when broadcasting does not grow x
 *   conv2d(x[N',K,1,1], w[O,K/g,1,1]) -> reshape(linear{groups=g}(reshape(x, [N',K]), w[O,K/g]), [N',O,1,1])
 *   linear(x, W, b) + c              -> linear(x, W, b + c)   c constant along the features only,
 *                                                             the linear read by nothing else
 *
 * and, in the driver: two nodes with equal op, attributes and inputs become
 * one (CSE), and nodes no output reaches are gone (a graph is what its
 * outputs reach). Rules are looked up by op; the driver offers each node,
 * its inputs already canonical, to its op's rules in order, and canonicalizes
 * what a rule builds, so rules compose without knowing about each other.
 *
 * Preconditions: none. Refuses: nothing; every rule is an identity on values.
 * A folded constant keeps its source's name when that source had no other
 * use, and gets `<stem>.const.<role>` otherwise.
 */
import { formatAttrs, type Graph, makeNode, type Node } from "../../ir/mod.ts";
import type { Pass } from "../pass.ts";
import { CONSTANT_RULES, LAYER_RULES, NEUTRAL_RULES, VIEW_RULES } from "./_canonical_rules.ts";
import { NameTable } from "./_names.ts";
import { Uses } from "./_rewrite.ts";
import { applyRules, indexRules, type RuleEnv } from "./_rules.ts";

/** canonicalize's rules by op; constants fold before any other rule sees a node. */
const RULES = indexRules([...CONSTANT_RULES, ...VIEW_RULES, ...NEUTRAL_RULES, ...LAYER_RULES]);

function canonicalizeGraph(graph: Graph): Graph {
  const ids = new Map<Node, number>();
  const idOf = (node: Node) => {
    let id = ids.get(node);
    if (id === undefined) ids.set(node, id = ids.size);
    return id;
  };
  const known = new Map<string, Node>();
  const canon = (node: Node): Node => {
    if (node.op === "input" || node.op === "weight") return node;
    const key = `${node.op}${formatAttrs(node.attrs)}(${node.inputs.map(idOf).join(",")})`;
    const seen = known.get(key);
    if (seen) return seen;
    const result = applyRules(RULES, node, env) ?? node;
    known.set(key, result);
    return result;
  };
  const env: RuleEnv = {
    make: (op, inputs, attrs) => canon(makeNode(op, inputs, attrs)),
    names: new NameTable(graph),
    uses: new Uses(graph),
  };
  const mapped = new Map<Node, Node>();
  for (const node of env.uses.order) {
    const inputs = node.inputs.map((input) => mapped.get(input)!);
    const same = inputs.every((input, i) => input === node.inputs[i]);
    mapped.set(node, canon(same ? node : makeNode(node.op, inputs, node.attrs, node.data)));
  }
  return {
    name: graph.name,
    inputs: graph.inputs,
    outputs: graph.outputs.map(({ name, node }) => ({ name, node: mapped.get(node)! })),
  };
}

/** The canonicalize pass. */
export const canonicalize: Pass = {
  name: "canonicalize",
  summary:
    "fold constants, drop dead and duplicate nodes, simplify views, read 1x1 convs on (N,K,1,1) as FCs",
  run: (graph) => canonicalizeGraph(graph),
};
