/**
 * canonicalize: rewrites that change how a computation is written, never what
 * it computes, so that the other passes match one form of each structure.
 *
 *   op(w1, w2, ...)                  -> w        evaluated with the op's reference semantics
 *   reshape(w) / flatten(w)          -> w'       same data, new shape (no copy)
 *   flatten(x, a)                    -> reshape(x, [prod(..a), prod(a..)])
 *   reshape(reshape(x, s1), s2)      -> reshape(x, s2)
 *   reshape(x, shape(x))             -> x
 *   transpose(x, [0, 1, ...])        -> x
 *   transpose(transpose(x, p), q)    -> transpose(x, p[q[i]])
 *   transpose moving only size-1 axes -> reshape
 *   x + 0, 0 + x, x - 0, x * 1, 1 * x, x / 1 -> x   when broadcasting does not grow x
 *   relu(reshape(x)) (any unary op)  -> reshape(relu(x))
 *   conv2d(x[N',K,1,1], w[O,K/g,1,1]) -> reshape(linear{groups=g}(reshape(x, [N',K]), w[O,K/g]), [N',O,1,1])
 *   linear(x, W, b) + c              -> linear(x, W, b + c)   c constant along the features only,
 *                                                             the linear read by nothing else
 *   two nodes with equal op, attributes and inputs -> one            (CSE)
 *   nodes no output reaches          -> gone                          (DCE: a graph is what its outputs reach)
 *
 * Preconditions: none. Refuses: nothing; every rule is an identity on values.
 * A folded constant keeps its source's name when that source had no other
 * use, and gets `<stem>.const.<role>` otherwise.
 */
import {
  broadcastShapes,
  expectOp,
  foldNode,
  formatAttrs,
  type Graph,
  isConstantOnly,
  makeNode,
  makeWeight,
  type Node,
  type OpAttrs,
  type OpName,
  sameShape,
  UNARY_OPS,
} from "../../ir/mod.ts";
import type { Pass } from "../pass.ts";
import { NameTable } from "./_names.ts";
import { constant, Uses } from "./_rewrite.ts";

type Make = <O extends OpName>(op: O, inputs: readonly Node[], attrs: OpAttrs[O]) => Node;

/** What a rule may use: node construction that canonicalizes, names, input-graph uses. */
interface Env {
  make: Make;
  names: NameTable;
  uses: Uses;
}

/** A rule sees a node whose inputs are canonical; it returns a canonical replacement or undefined. */
type Rule = (node: Node, env: Env) => Node | undefined;

const isWeight = (node: Node): node is Node<"weight"> => node.op === "weight";

/** A weight with `source`'s data and a new shape, named after it. */
function reshapedWeight(source: Node<"weight">, shape: readonly number[], env: Env): Node {
  const name = env.uses.only(source)
    ? source.attrs.name
    : env.names.derive(source.attrs.name, "const");
  return makeWeight(name, shape, source.data!);
}

const foldConstants: Rule = (node, env) => {
  if (!isConstantOnly(node)) return undefined;
  const first = expectOp(node.inputs[0], "weight");
  if (node.op === "reshape" || node.op === "flatten") {
    return reshapedWeight(first, node.type.shape, env);
  }
  return makeWeight(env.names.derive(first.attrs.name, "const"), node.type.shape, foldNode(node));
};

const flattenToReshape: Rule = (node, env) =>
  node.op === "flatten" ? env.make("reshape", node.inputs, { shape: node.type.shape }) : undefined;

const mergeReshapes: Rule = (node, env) => {
  if (node.op !== "reshape") return undefined;
  const [x] = node.inputs;
  if (sameShape(x.type.shape, node.type.shape)) return x;
  if (x.op === "reshape") return env.make("reshape", x.inputs, { shape: node.type.shape });
  const attrs = node.attrs;
  // Spell out -1, so that equal reshapes print and hash alike.
  if (!sameShape(attrs.shape, node.type.shape)) {
    return env.make("reshape", [x], { shape: node.type.shape });
  }
  return undefined;
};

const simplifyTranspose: Rule = (node, env) => {
  if (node.op !== "transpose") return undefined;
  const { perm } = node.attrs;
  const [x] = node.inputs;
  if (perm.every((axis, i) => axis === i)) return x;
  if (x.op === "transpose") {
    const inner = x.attrs.perm;
    return env.make("transpose", x.inputs, { perm: perm.map((axis) => inner[axis]) });
  }
  const moved = perm.filter((axis) => x.type.shape[axis] !== 1);
  if (moved.every((axis, i) => i === 0 || moved[i - 1] < axis)) {
    return env.make("reshape", [x], { shape: node.type.shape });
  }
  return undefined;
};

/** True when every value of `node` is `value` (a constant only). */
function isFilledWith(node: Node, value: number): boolean {
  const data = constant(node);
  return data !== undefined && data.every((item) => item === value);
}

/** `x` when `other` broadcasts into x's shape without growing it. */
function keeps(x: Node, other: Node, result: Node): Node | undefined {
  const shape = broadcastShapes(x.type.shape, other.type.shape);
  return shape && sameShape(shape, x.type.shape) && sameShape(shape, result.type.shape)
    ? x
    : undefined;
}

const dropNeutral: Rule = (node) => {
  const [a, b] = node.inputs;
  switch (node.op) {
    case "add":
      if (isFilledWith(b, 0)) return keeps(a, b, node);
      if (isFilledWith(a, 0)) return keeps(b, a, node);
      return undefined;
    case "mul":
      if (isFilledWith(b, 1)) return keeps(a, b, node);
      if (isFilledWith(a, 1)) return keeps(b, a, node);
      return undefined;
    case "sub":
      return isFilledWith(b, 0) ? keeps(a, b, node) : undefined;
    case "div":
      return isFilledWith(b, 1) ? keeps(a, b, node) : undefined;
    default:
      return undefined;
  }
};

const pointwiseConvToLinear: Rule = (node, env) => {
  if (node.op !== "conv2d") return undefined;
  const [x, w, b] = node.inputs;
  const [n, k, h, wd] = x.type.shape;
  const [o, kg, kh, kw] = w.type.shape;
  const { pads, groups } = node.attrs;
  if (h !== 1 || wd !== 1 || kh !== 1 || kw !== 1 || pads.some((pad) => pad !== 0)) {
    return undefined;
  }
  const rows = env.make("reshape", [x], { shape: [n, k] });
  const weight = isWeight(w)
    ? reshapedWeight(w, [o, kg], env)
    : env.make("reshape", [w], { shape: [o, kg] });
  const fc = env.make("linear", b ? [rows, weight, b] : [rows, weight], { groups });
  return env.make("reshape", [fc], { shape: [n, o, 1, 1] });
};

/** Views move after elementwise unary ops, where they meet and merge with the next view. */
const unaryBeforeView: Rule = (node, env) => {
  const [x] = node.inputs;
  if (!UNARY_OPS.has(node.op) || x?.op !== "reshape") return undefined;
  const inner = env.make(node.op, x.inputs, {});
  return env.make("reshape", [inner], { shape: node.type.shape });
};

/**
 * A constant added after an FC is its bias: torch exports Linear on 3-D input as
 * MatMul + Add, and refold's own grouped-FC export leaves the bias as an Add.
 */
const biasIntoLinear: Rule = (node, env) => {
  if (node.op !== "add") return undefined;
  for (const [fc, other] of [node.inputs, [...node.inputs].reverse()]) {
    if (fc.op !== "linear" || !env.uses.only(fc) || !sameShape(fc.type.shape, node.type.shape)) {
      continue;
    }
    const added = constant(other), [x, w, b] = fc.inputs;
    const features = fc.type.shape[fc.type.shape.length - 1];
    const shape = other.type.shape, last = shape[shape.length - 1] ?? 1;
    const alongFeatures = shape.slice(0, -1).every((dim) => dim === 1) &&
      (last === features || last === 1);
    if (!added || !alongFeatures || (b && !constant(b))) continue;
    const bias = new Float32Array(features);
    for (let i = 0; i < features; i++) {
      bias[i] = (constant(b)?.[i] ?? 0) + added[last === 1 ? 0 : i];
    }
    const stem = isWeight(w) ? w.attrs.name : "linear";
    const name = env.names.derive(stem, "const", "bias");
    return env.make(
      "linear",
      [x, w, makeWeight(name, [features], bias)],
      fc.attrs,
    );
  }
  return undefined;
};

const RULES: readonly Rule[] = [
  foldConstants,
  flattenToReshape,
  mergeReshapes,
  simplifyTranspose,
  dropNeutral,
  unaryBeforeView,
  pointwiseConvToLinear,
  biasIntoLinear,
];

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
    let result: Node = node;
    for (const rule of RULES) {
      const replacement = rule(node, env);
      if (replacement) {
        result = replacement;
        break;
      }
    }
    known.set(key, result);
    return result;
  };
  const env: Env = {
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
