/**
 * group-fc: every FC in its most compact grouped form, and parallel FCs on
 * the same input as one FC.
 *
 *   linear(x, W1) + linear(x', W2)     -> linear(x, W1 + W2)        x, x' views of one tensor, same rows
 *   concat(linear(x, W1), linear(x, W2)) -> linear(x, [W1; W2])      along the feature axis, groups 1
 *   linear{g}(x, W) with W zero off finer diagonal blocks -> linear{g'}(x, W without the zeros)
 *   linear{g}(x, W) with block i == block i mod S (share-sets)
 *     -> reshape(linear{S}(reshape(x, [rows*g/S, S*K/g]), W[blocks 0..S)), [..., N])
 *
 * The last is RepMLPNet's share-set FC: one h*w -> h*w weight per share-set
 * serves all C/S channels as extra GEMM rows instead of being copied per
 * channel. Summed FCs get gcd(g1, g2) groups.
 *
 * Preconditions: constant weights; for merging, nothing else reads the FCs.
 * Refuses: FCs with computed weights; summed FCs on different tensors or rows;
 * concatenated FCs with groups (their concatenation is not one grouped FC).
 */
import {
  expectOp,
  type Graph,
  makeNode,
  makeWeight,
  type Node,
  sizeOf,
  toFloat32,
} from "../../ir/mod.ts";
import type { Pass, PassContext } from "../pass.ts";
import { gcd, hasConstantWeights, regroup } from "./_fc.ts";
import { NameTable } from "./_names.ts";
import { constant, substitute, Uses, viewBase } from "./_rewrite.ts";
import { buildSum, rewriteSums, type Sum, type SumEnv, type Term } from "./_sum.ts";

type Linear = Node<"linear">;

const featuresIn = (fc: Linear) => fc.inputs[0].type.shape[fc.inputs[0].type.shape.length - 1];

const weightName = (fc: Linear) => expectOp(fc.inputs[1], "weight").attrs.name;

/** A summed FC and its sign. */
type FcTerm = { readonly node: Linear; readonly sign: 1 | -1 };

/** One FC computing the signed sum of `fcs`, which read views of the same rows. */
function sumFcs(fcs: readonly FcTerm[], names: NameTable): Linear {
  const first = fcs[0].node;
  const groups = fcs.reduce((g, { node }) => gcd(g, node.attrs.groups), first.attrs.groups);
  const n = first.inputs[1].type.shape[0];
  const weight = new Float32Array(first.inputs[1].type.shape[1] * first.attrs.groups * n / groups);
  const bias = new Float64Array(n);
  let hasBias = false;
  for (const { node: fc, sign } of fcs) {
    const own = regroup(fc, groups);
    for (let j = 0; j < weight.length; j++) weight[j] += sign * own[j];
    const b = constant(fc.inputs[2]);
    if (b) {
      hasBias = true;
      for (let j = 0; j < n; j++) bias[j] += sign * b[j];
    }
  }
  const source = weightName(first);
  const inputs: Node[] = [
    first.inputs[0],
    makeWeight(names.derive(source, "merged", "weight"), [n, weight.length / n], weight),
  ];
  if (hasBias) {
    inputs.push(makeWeight(names.derive(source, "merged", "bias"), [n], toFloat32(bias)));
  }
  return makeNode("linear", inputs, { groups });
}

const isFcTerm = (term: Term): term is FcTerm => term.node.op === "linear";

/** Merges summed FCs that read the same rows; undefined when none do. */
function mergeSummed({ root, terms }: Sum, { uses, names, context }: SumEnv): Node | undefined {
  const buckets = new Map<string, FcTerm[]>();
  const ids = new Map<Node, number>();
  const fcTerms = terms.filter(isFcTerm);
  if (fcTerms.length < 2) return undefined;
  for (const term of fcTerms) {
    const fc = term.node;
    if (!uses.only(fc) || !hasConstantWeights(fc)) {
      context.explain(
        fc,
        "not merged with the FCs it is summed with: it is read elsewhere or its weights are computed",
      );
      continue;
    }
    const base = viewBase(fc.inputs[0]);
    if (!ids.has(base)) ids.set(base, ids.size);
    const key = `${ids.get(base)}/${featuresIn(fc)}`;
    buckets.set(key, [...(buckets.get(key) ?? []), term]);
  }
  const merged = new Map<Term, Node | null>();
  for (const fcs of buckets.values()) {
    if (fcs.length < 2 || new Set(fcs.map((t) => t.node)).size !== fcs.length) continue;
    fcs.forEach((fc, i) => merged.set(fc, i === 0 ? sumFcs(fcs, names) : null));
  }
  if (merged.size === 0) return undefined;
  const kept = terms.flatMap((term): Term[] => {
    const value = merged.get(term);
    return value === undefined ? [term] : value === null ? [] : [{ node: value, sign: 1 }];
  });
  return buildSum(kept, root.type.shape);
}

/** concat(linear(x, W1, b1), linear(x, W2, b2), ...) on the feature axis -> one linear. */
function mergeConcat(concat: Node<"concat">, uses: Uses, names: NameTable): Node | undefined {
  const fcs = concat.inputs.filter((input): input is Linear => input.op === "linear");
  const x = fcs[0]?.inputs[0];
  const fits = concat.attrs.axis === concat.type.shape.length - 1 && fcs.length > 1 &&
    fcs.length === concat.inputs.length &&
    fcs.every((fc) =>
      fc.inputs[0] === x && fc.attrs.groups === 1 && uses.only(fc) && hasConstantWeights(fc)
    ) && new Set(fcs).size === fcs.length;
  if (!fits) return undefined;
  const k = featuresIn(fcs[0]);
  const n = fcs.reduce((total, fc) => total + fc.inputs[1].type.shape[0], 0);
  const weight = new Float32Array(n * k), bias = new Float32Array(n);
  let row = 0;
  for (const fc of fcs) {
    weight.set(constant(fc.inputs[1])!, row * k);
    const b = constant(fc.inputs[2]);
    if (b) bias.set(b, row);
    row += fc.inputs[1].type.shape[0];
  }
  const source = weightName(fcs[0]);
  return makeNode("linear", [
    x,
    makeWeight(names.derive(source, "merged", "weight"), [n, k], weight),
    makeWeight(names.derive(source, "merged", "bias"), [n], bias),
  ], { groups: 1 });
}

/** The most groups, a multiple of the FC's own, for which the weight is zero off the diagonal blocks. */
function finestGroups(fc: Linear): number {
  const weight = constant(fc.inputs[1])!;
  const own = fc.attrs.groups;
  const [n, kOwn] = fc.inputs[1].type.shape;
  const k = kOwn * own;
  const low = new Int32Array(n).fill(k), high = new Int32Array(n).fill(-1);
  for (let row = 0; row < n; row++) {
    const offset = Math.floor(row / (n / own)) * kOwn;
    for (let j = 0; j < kOwn; j++) {
      if (weight[row * kOwn + j] === 0) continue;
      low[row] = Math.min(low[row], offset + j);
      high[row] = offset + j;
    }
    // A row using both ends of its block rules out every finer grouping.
    if (low[row] === offset && high[row] === offset + kOwn - 1) return own;
  }
  let best = own;
  for (let g = gcd(n, k); g > own; g--) {
    if (gcd(n, k) % g !== 0 || g % own !== 0) continue;
    const rows = n / g, cols = k / g;
    let fits = true;
    for (let row = 0; row < n && fits; row++) {
      const block = Math.floor(row / rows);
      fits = high[row] < 0 || (low[row] >= block * cols && high[row] < (block + 1) * cols);
    }
    if (fits) {
      best = g;
      break;
    }
  }
  return best;
}

/** The fewest leading blocks that repeat to give all `groups` blocks of weight and bias. */
function period(weight: Float32Array, bias: Float32Array | undefined, groups: number): number {
  const block = weight.length / groups, biasBlock = bias ? bias.length / groups : 0;
  const repeats = (s: number) => {
    for (let i = s * block; i < weight.length; i++) {
      if (weight[i] !== weight[i % (s * block)]) return false;
    }
    if (bias) {
      for (
        let i = s * biasBlock;
        i < bias.length;
        i++
      ) if (bias[i] !== bias[i % (s * biasBlock)]) return false;
    }
    return true;
  };
  for (let s = 1; s < groups; s++) if (groups % s === 0 && repeats(s)) return s;
  return groups;
}

/** An FC rewritten with finer groups and shared blocks, or undefined when it is already compact. */
function compact(fc: Linear, names: NameTable): Node | undefined {
  if (!hasConstantWeights(fc)) return undefined;
  const groups = finestGroups(fc);
  const [n] = fc.inputs[1].type.shape;
  const k = featuresIn(fc);
  let weight = constant(fc.inputs[1])!;
  if (groups !== fc.attrs.groups) {
    const kg = k / groups, own = fc.inputs[1].type.shape[1];
    const finer = new Float32Array(n * kg);
    for (let row = 0; row < n; row++) {
      const offset = Math.floor(row / (n / groups)) * kg -
        Math.floor(row / (n / fc.attrs.groups)) * own;
      finer.set(weight.subarray(row * own + offset, row * own + offset + kg), row * kg);
    }
    weight = finer;
  }
  const bias = constant(fc.inputs[2]);
  const shared = period(weight, bias, groups);
  if (groups === fc.attrs.groups && shared === groups) return undefined;
  const source = weightName(fc);
  const kept = weight.length * shared / groups;
  const inputs: Node[] = [
    fc.inputs[0],
    makeWeight(
      names.derive(source, "grouped", "weight"),
      [(n * shared) / groups, k / groups],
      weight.slice(0, kept),
    ),
  ];
  if (bias) {
    inputs.push(
      makeWeight(
        names.derive(source, "grouped", "bias"),
        [(n * shared) / groups],
        bias.slice(0, (n * shared) / groups),
      ),
    );
  }
  if (shared === groups) return makeNode("linear", inputs, { groups });
  const x = fc.inputs[0];
  const rows = sizeOf(x.type.shape) / k;
  inputs[0] = makeNode("reshape", [x], {
    shape: [(rows * groups) / shared, (k * shared) / groups],
  });
  const shareSets = makeNode("linear", inputs, { groups: shared });
  return makeNode("reshape", [shareSets], { shape: [...fc.type.shape] });
}

function groupGraph(graph: Graph, context: PassContext): Graph {
  const summed = rewriteSums(graph, context, mergeSummed);
  const uses = new Uses(summed);
  const names = new NameTable(summed);
  const plan = new Map<Node, Node>();
  for (const node of uses.order) {
    if (node.op !== "concat") continue;
    const value = mergeConcat(node, uses, names);
    if (value) plan.set(node, value);
  }
  // Compact every FC of the merged graph, new ones included.
  const merged = substitute(summed, plan);
  const second = new Map<Node, Node>();
  for (const node of new Uses(merged).order) {
    if (node.op !== "linear") continue;
    const value = compact(node, names);
    if (value) second.set(node, value);
  }
  return substitute(merged, second);
}

/** The group-fc pass. */
export const groupFc: Pass = {
  name: "group-fc",
  summary:
    "merge parallel FCs on the same input; give every FC its finest groups and share repeated blocks",
  run: groupGraph,
};
