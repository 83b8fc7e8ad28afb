/**
 * merge-parallel-convs: summed conv branches that read the same tensor become
 * one conv (RepVGG / ACNet style, and RepMLP's local perceptron):
 *
 *   conv(x, K1, b1) + conv(x, K2, b2) [+ x] -> conv(x, pad(K1) + pad(K2) [+ I], b1 + b2)
 *
 * Every kernel is zero-padded, centred, to the largest extent; an identity
 * branch (x itself) is a centred 1 on the diagonal. Branches with different
 * dilations are spread onto dilation 1. Kernel sizes may come in any order:
 * each branch is placed by its own size, never by its position in the sum.
 *
 * Preconditions: constant kernels and biases; the branches are summed
 * (through reshapes too) and nothing else reads them.
 * Refuses, and --explain says so: branches with different strides or groups;
 * padding that is not centred (d*(k-1)/2 on every side, k odd), since the
 * windows would then not line up; a branch that something else also reads.
 */
import {
  expectOp,
  type Graph,
  makeNode,
  makeWeight,
  type Node,
  type OpAttrs,
  sameShape,
  toFloat32,
} from "../../ir/mod.ts";
import type { Pass, PassContext } from "../pass.ts";
import { NameTable } from "./_names.ts";
import { constant, substitute, Uses } from "./_rewrite.ts";
import { buildSum, findSums, type Sum } from "./_sum.ts";

type Conv = Node<"conv2d">;

/** Why a branch cannot join the others, or undefined when it can. */
function centringProblem(conv: Conv): string | undefined {
  const { pads, dilation } = conv.attrs;
  const [, , kh, kw] = conv.inputs[1].type.shape;
  const centred = kh % 2 === 1 && kw % 2 === 1 &&
    pads[0] === (dilation[0] * (kh - 1)) / 2 && pads[2] === pads[0] &&
    pads[1] === (dilation[1] * (kw - 1)) / 2 && pads[3] === pads[1];
  return centred ? undefined : `padding [${pads}] is not centred for its ${kh}x${kw} kernel`;
}

/** What must agree between branches for their sum to be one conv. */
function classOf(conv: Conv): string {
  const { stride, groups } = conv.attrs;
  return `stride [${stride}], groups ${groups}, output [${conv.type.shape}]`;
}

/** One merged conv from centred branches on the same input plus `identities` identity branches. */
function mergeBranches(convs: readonly Conv[], identities: number, names: NameTable): Conv {
  const first = convs[0];
  const [o, cg] = first.inputs[1].type.shape;
  const dilations = convs.map((conv) => conv.attrs.dilation);
  const sameDilation = dilations.every((d) => d[0] === dilations[0][0] && d[1] === dilations[0][1]);
  const target: [number, number] = sameDilation ? [...dilations[0]] as [number, number] : [1, 1];
  // Extent of each branch in units of the target dilation.
  const spread = convs.map((
    conv,
  ) => [conv.attrs.dilation[0] / target[0], conv.attrs.dilation[1] / target[1]]);
  let kh = 1, kw = 1;
  convs.forEach((conv, i) => {
    const [, , h, w] = conv.inputs[1].type.shape;
    kh = Math.max(kh, (h - 1) * spread[i][0] + 1);
    kw = Math.max(kw, (w - 1) * spread[i][1] + 1);
  });
  const cy = (kh - 1) / 2, cx = (kw - 1) / 2;
  const weight = new Float64Array(o * cg * kh * kw);
  const hasBias = convs.some((conv) => conv.inputs[2]);
  const bias = new Float64Array(o);
  convs.forEach((conv, i) => {
    const kernel = constant(conv.inputs[1])!;
    const [, , h, w] = conv.inputs[1].type.shape;
    const [sy, sx] = spread[i];
    for (let oc = 0; oc < o; oc++) {
      for (let c = 0; c < cg; c++) {
        const from = (oc * cg + c) * h * w, to = (oc * cg + c) * kh * kw;
        for (let y = 0; y < h; y++) {
          const row = to + (cy + (y - (h - 1) / 2) * sy) * kw;
          for (let x = 0; x < w; x++) {
            weight[row + cx + (x - (w - 1) / 2) * sx] += kernel[from + y * w + x];
          }
        }
      }
    }
    const b = constant(conv.inputs[2]);
    if (b) { for (let oc = 0; oc < o; oc++) bias[oc] += b[oc]; }
  });
  // An identity branch needs C == O, so output channel oc reads input oc, at index oc % (C/g) of its group.
  for (let oc = 0; oc < o; oc++) weight[((oc * cg + (oc % cg)) * kh + cy) * kw + cx] += identities;
  const largest = convs.reduce((a, b) => (sizeOfKernel(b) > sizeOfKernel(a) ? b : a));
  const source = expectOp(largest.inputs[1], "weight").attrs.name;
  const inputs = [
    first.inputs[0],
    makeWeight(names.derive(source, "merged", "weight"), [o, cg, kh, kw], toFloat32(weight)),
  ];
  if (hasBias) {
    inputs.push(makeWeight(names.derive(source, "merged", "bias"), [o], toFloat32(bias)));
  }
  const attrs: OpAttrs["conv2d"] = {
    stride: first.attrs.stride,
    pads: [target[0] * cy, target[1] * cx, target[0] * cy, target[1] * cx],
    dilation: target,
    groups: first.attrs.groups,
  };
  return makeNode("conv2d", inputs, attrs);
}

function sizeOfKernel(conv: Conv): number {
  const [, , h, w] = conv.inputs[1].type.shape;
  return h * w;
}

/** Merges what can be merged in one sum; returns its new value, or undefined when nothing merged. */
function mergeSum(sum: Sum, uses: Uses, names: NameTable, context: PassContext): Node | undefined {
  const byInput = new Map<Node, Conv[]>();
  for (const leaf of sum.leaves) {
    if (leaf.op !== "conv2d") continue;
    // A branch added twice stays twice: its kernel then counts twice.
    byInput.set(leaf.inputs[0], [...(byInput.get(leaf.inputs[0]) ?? []), leaf as Conv]);
  }
  const consumed = new Set<Node>();
  const placed = new Map<Node, Node>();
  for (const [x, convs] of byInput) {
    const identities = sum.leaves.filter((leaf) => leaf === x).length;
    if (convs.length + identities < 2) continue;
    // Stride and groups first: they decide which branches could ever be one conv.
    const classes = new Map<string, Conv[]>();
    for (const conv of convs) {
      classes.set(classOf(conv), [...(classes.get(classOf(conv)) ?? []), conv]);
    }
    const ranked = [...classes.values()].sort((a, b) => b.length - a.length);
    for (const other of ranked.slice(1)) {
      for (const conv of other) {
        context.explain(
          conv,
          `not merged with ${context.describe(ranked[0][0])}: ${classOf(conv)} differs from ${
            classOf(ranked[0][0])
          }`,
        );
      }
    }
    const group: Conv[] = [];
    for (const conv of ranked[0]) {
      const problem = !uses.only(conv)
        ? "it is also read elsewhere"
        : !constant(conv.inputs[1]) || (conv.inputs[2] && !constant(conv.inputs[2]))
        ? "its kernel or bias is computed, not constant"
        : centringProblem(conv);
      if (problem) {
        context.explain(conv, `not merged with the other branches on the same input: ${problem}`);
      } else group.push(conv);
    }
    const withIdentity = identities > 0 && group.length > 0 &&
      sameShape(group[0].type.shape, x.type.shape);
    const count = group.length + (withIdentity ? identities : 0);
    if (count < 2 || group.length === 0) continue;
    placed.set(group[0], mergeBranches(group, withIdentity ? identities : 0, names));
    for (const conv of group) consumed.add(conv);
    if (withIdentity) consumed.add(x);
  }
  if (placed.size === 0) return undefined;
  const leaves: Node[] = [];
  for (const leaf of sum.leaves) {
    const merged = placed.get(leaf);
    if (!consumed.has(leaf)) leaves.push(leaf);
    else if (merged) {
      leaves.push(merged);
      placed.delete(leaf);
    }
  }
  return buildSum(leaves, sum.root.type.shape);
}

function mergeGraph(graph: Graph, context: PassContext): Graph {
  const uses = new Uses(graph);
  const names = new NameTable(graph);
  const plan = new Map<Node, Node>();
  for (const sum of findSums(uses)) {
    const merged = mergeSum(sum, uses, names, context);
    if (merged) plan.set(sum.root, merged);
  }
  return substitute(graph, plan);
}

/** The merge-parallel-convs pass. */
export const mergeParallelConvs: Pass = {
  name: "merge-parallel-convs",
  summary: "merge summed conv branches on the same input (and identity branches) into one conv",
  run: mergeGraph,
};
