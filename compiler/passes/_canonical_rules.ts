/**
 * canonicalize's rules, one identity each (the comment above a rule is its
 * identity), grouped by what they tidy. Every rule is an identity on values:
 * none of them changes what the graph computes, only how it is written.
 */
import {
  broadcastShapes,
  foldNode,
  isConstantOnly,
  makeWeight,
  type Node,
  OP_NAMES,
  sameShape,
  UNARY_OPS,
} from "../../ir/mod.ts";
import { type Rule, rule, type RuleEnv } from "./_rules.ts";
import { constant } from "./_rewrite.ts";

const COMPUTED_OPS = OP_NAMES.filter((op) => op !== "input" && op !== "weight");

/** A weight with `source`'s data and a new shape, named after it (no copy). */
function reshapedWeight(source: Node<"weight">, shape: readonly number[], env: RuleEnv): Node {
  const name = env.uses.only(source)
    ? source.attrs.name
    : env.names.derive(source.attrs.name, "const");
  return makeWeight(name, shape, source.data!);
}

/** The first input of a constant-only node, which names the folded constant. */
function firstWeight(node: Node): Node<"weight"> | undefined {
  const first = node.inputs[0];
  return first?.op === "weight" ? first : undefined;
}

// ---- constants

/** reshape(w) / flatten(w) -> w': same data, new shape, no copy */
const viewOfConstant = rule(["reshape", "flatten"], (node, env) => {
  const source = firstWeight(node);
  return source && isConstantOnly(node) ? reshapedWeight(source, node.type.shape, env) : undefined;
});

/** op(w1, w2, ...) -> w: evaluated once with the op's reference semantics */
const foldConstant = rule(COMPUTED_OPS, (node, env) => {
  const source = firstWeight(node);
  if (!source || !isConstantOnly(node)) return undefined;
  return makeWeight(env.names.derive(source.attrs.name, "const"), node.type.shape, foldNode(node));
});

/** Constants first: a constant subgraph becomes one weight before anything else looks at it. */
export const CONSTANT_RULES: readonly Rule[] = [viewOfConstant, foldConstant];

// ---- views

/** flatten(x, a) -> reshape(x, [prod(..a), prod(a..)]) */
const flattenIsReshape = rule(
  "flatten",
  (node, env) => env.make("reshape", node.inputs, { shape: node.type.shape }),
);

/** reshape(x, shape(x)) -> x */
const reshapeToOwnShape = rule("reshape", (node) => {
  const [x] = node.inputs;
  return sameShape(x.type.shape, node.type.shape) ? x : undefined;
});

/** reshape(reshape(x, s1), s2) -> reshape(x, s2) */
const reshapeOfReshape = rule("reshape", (node, env) => {
  const [x] = node.inputs;
  return x.op === "reshape" ? env.make("reshape", x.inputs, { shape: node.type.shape }) : undefined;
});

/** reshape(x, [.., -1, ..]) -> reshape(x, [.., d, ..]): -1 spelled out, so equal reshapes hash alike */
const reshapeSpelledOut = rule(
  "reshape",
  (node, env) =>
    sameShape(node.attrs.shape, node.type.shape)
      ? undefined
      : env.make("reshape", node.inputs, { shape: node.type.shape }),
);

/** transpose(x, [0, 1, ...]) -> x */
const identityTranspose = rule(
  "transpose",
  (node) => node.attrs.perm.every((axis, i) => axis === i) ? node.inputs[0] : undefined,
);

/** transpose(transpose(x, p), q) -> transpose(x, p[q[i]]) */
const transposeOfTranspose = rule("transpose", (node, env) => {
  const [x] = node.inputs;
  if (x.op !== "transpose") return undefined;
  const inner = x.attrs.perm;
  return env.make("transpose", x.inputs, { perm: node.attrs.perm.map((axis) => inner[axis]) });
});

/** transpose moving only size-1 axes -> reshape */
const unitTranspose = rule("transpose", (node, env) => {
  const [x] = node.inputs;
  const moved = node.attrs.perm.filter((axis) => x.type.shape[axis] !== 1);
  return moved.every((axis, i) => i === 0 || moved[i - 1] < axis)
    ? env.make("reshape", [x], { shape: node.type.shape })
    : undefined;
});

/** relu(reshape(x)) -> reshape(relu(x)), any unary op: views move down and meet the next view */
const unaryBeforeView = rule([...UNARY_OPS], (node, env) => {
  const [x] = node.inputs;
  if (x.op !== "reshape") return undefined;
  const inner = env.make(node.op, x.inputs, {});
  return env.make("reshape", [inner], { shape: node.type.shape });
});

/** Views in one canonical spelling: reshapes only where a view is needed, merged. */
export const VIEW_RULES: readonly Rule[] = [
  flattenIsReshape,
  reshapeToOwnShape,
  reshapeOfReshape,
  reshapeSpelledOut,
  identityTranspose,
  transposeOfTranspose,
  unitTranspose,
  unaryBeforeView,
];

// ---- neutral elements

/** True when every value of `node` is `value` (a constant only). */
function isFilledWith(node: Node, value: number): boolean {
  const data = constant(node);
  return data !== undefined && data.every((item) => item === value);
}

/** `x` when `other` broadcasts into x's shape without growing it, and the result keeps it too. */
function keeps(x: Node, other: Node, result: Node): Node | undefined {
  const shape = broadcastShapes(x.type.shape, other.type.shape);
  return shape && sameShape(shape, x.type.shape) && sameShape(shape, result.type.shape)
    ? x
    : undefined;
}

/** x + 0 -> x, 0 + x -> x (the traced `out = 0; out += branch`) */
const addZero = rule("add", (node) => {
  const [a, b] = node.inputs;
  if (isFilledWith(b, 0)) return keeps(a, b, node);
  return isFilledWith(a, 0) ? keeps(b, a, node) : undefined;
});

/** x - 0 -> x */
const subZero = rule("sub", (node) => {
  const [a, b] = node.inputs;
  return isFilledWith(b, 0) ? keeps(a, b, node) : undefined;
});

/** x * 1 -> x, 1 * x -> x */
const mulOne = rule("mul", (node) => {
  const [a, b] = node.inputs;
  if (isFilledWith(b, 1)) return keeps(a, b, node);
  return isFilledWith(a, 1) ? keeps(b, a, node) : undefined;
});

/** x / 1 -> x */
const divOne = rule("div", (node) => {
  const [a, b] = node.inputs;
  return isFilledWith(b, 1) ? keeps(a, b, node) : undefined;
});

/** Arithmetic with a neutral constant disappears, when broadcasting does not grow x. */
export const NEUTRAL_RULES: readonly Rule[] = [addZero, subZero, mulOne, divOne];

// ---- layers

/** conv2d(x[N',K,1,1], w[O,K/g,1,1]) -> reshape(linear{g}(reshape(x, [N',K]), w[O,K/g]), [N',O,1,1]) */
const pointwiseConvIsLinear = rule("conv2d", (node, env) => {
  const [x, w, b] = node.inputs;
  const [n, k, h, wd] = x.type.shape;
  const [o, kg, kh, kw] = w.type.shape;
  const { pads, groups } = node.attrs;
  if (h !== 1 || wd !== 1 || kh !== 1 || kw !== 1 || pads.some((pad) => pad !== 0)) {
    return undefined;
  }
  const rows = env.make("reshape", [x], { shape: [n, k] });
  const weight = w.op === "weight"
    ? reshapedWeight(w, [o, kg], env)
    : env.make("reshape", [w], { shape: [o, kg] });
  const fc = env.make("linear", b ? [rows, weight, b] : [rows, weight], { groups });
  return env.make("reshape", [fc], { shape: [n, o, 1, 1] });
});

/**
 * linear(x, W, b) + c -> linear(x, W, b + c), c constant along the features only and the
 * linear read by nothing else (torch's MatMul + Add, refold's own grouped-FC export)
 */
const biasIntoLinear = rule("add", (node, env) => {
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
    const stem = w.op === "weight" ? w.attrs.name : "linear";
    const name = env.names.derive(stem, "const", "bias");
    return env.make("linear", [x, w, makeWeight(name, [features], bias)], fc.attrs);
  }
  return undefined;
});

/** Layers in the form the other passes match: FCs as linear, biases inside them. */
export const LAYER_RULES: readonly Rule[] = [pointwiseConvIsLinear, biasIntoLinear];
