/**
 * conv-into-fc (RepMLP's locality injection): a conv whose images are the
 * rows of an FC, summed with that FC, becomes part of the FC's weight.
 *
 * On inputs of fixed size H x W a conv is a linear map from R^(C*H*W) to
 * R^(O*oh*ow). With features flattened channel-major, (c, y, x) -> c*H*W + y*W + x:
 *
 *   W_fc[(o,oy,ox), (c,iy,ix)] += K[o, c - grp(o)*C/g, ky, kx]
 *       where iy = oy*sh - pt + ky*dh and ix = ox*sw - pl + kx*dw fall inside the image
 *   b_fc[(o,oy,ox)] += b[o]
 *
 * The matrix is written tap by tap, O(non-zeros), never by running the conv
 * on an identity matrix. It is exact for any C and O, any groups, h != w,
 * any stride, padding and dilation, and kernels in any order (each branch
 * places its own taps). The merged FC has gcd(FC groups, conv groups)
 * groups; in RepMLP both are g, so nothing grows.
 *
 * Preconditions: the conv and the FC read views of the same tensor, with one
 * conv image per FC row (the conv's spatial extent is exactly one partition)
 * and one FC output row per conv output image; constant weights; the two are
 * summed, through reshapes, and nothing else reads either.
 * Refuses, and --explain says so, whenever one of these does not hold.
 */
import {
  expectOp,
  makeNode,
  makeWeight,
  type Node,
  sizeOf,
  toFloat32,
  windowGeometry,
} from "../../ir/mod.ts";
import type { Pass, PassContext } from "../pass.ts";
import { gcd, hasConstantWeights, regroup } from "./_fc.ts";
import type { NameTable } from "./_names.ts";
import { constant, type Uses, viewBase } from "./_rewrite.ts";
import { buildSum, rewriteSums, type Sum, type SumEnv, type Term } from "./_sum.ts";

type Conv = Node<"conv2d">;
type Linear = Node<"linear">;

/** Why `conv` cannot be injected into `fc`, or undefined when it can. */
function injectionProblem(
  conv: Conv,
  fc: Linear,
  uses: Uses,
  context: PassContext,
): string | undefined {
  const x = fc.inputs[0], image = conv.inputs[0];
  const k = x.type.shape[x.type.shape.length - 1];
  const rows = sizeOf(x.type.shape) / k;
  const [n, c, h, w] = image.type.shape;
  const [, o, oh, ow] = conv.type.shape;
  const features = fc.type.shape[fc.type.shape.length - 1];
  if (viewBase(image) !== viewBase(x)) {
    return `it reads ${context.describe(viewBase(image))}, the FC reads ${
      context.describe(viewBase(x))
    }: not the same partitions`;
  }
  if (n !== rows || c * h * w !== k) {
    return `its ${n} images of ${c}x${h}x${w} are not the FC's ${rows} rows of ${k}: ` +
      `its spatial extent is not one partition`;
  }
  if (o * oh * ow !== features) {
    return `its ${o}x${oh}x${ow} outputs per image are not the FC's ${features} outputs per row`;
  }
  if (!uses.only(conv)) return "the conv is also read elsewhere";
  if (!uses.only(fc)) return "the FC is also read elsewhere";
  if (!hasConstantWeights(conv)) return "the conv's kernel or bias is computed, not constant";
  if (!hasConstantWeights(fc)) return "the FC's weight or bias is computed, not constant";
  return undefined;
}

/** Adds `sign` times the conv's taps to the FC weight (rows of `perGroup` inputs, `groups` groups). */
function addTaps(
  weight: Float32Array,
  bias: Float64Array | undefined,
  { node: conv, sign }: { node: Conv; sign: number },
  groups: number,
): void {
  const { channels: c, height: h, width: w, outChannels: o, outHeight: oh, outWidth: ow, window } =
    windowGeometry(conv);
  const { kernel: [kh, kw], stride: [sh, sw], pads: [pt, pl], dilation: [dh, dw] } = window;
  const cg = c / conv.attrs.groups;
  const kernel = constant(conv.inputs[1])!;
  const outputsPerGroup = (o * oh * ow) / groups, perGroup = (c * h * w) / groups;
  const outPerConvGroup = o / conv.attrs.groups;
  for (let oc = 0; oc < o; oc++) {
    const firstChannel = Math.floor(oc / outPerConvGroup) * cg;
    for (let cl = 0; cl < cg; cl++) {
      const channel = firstChannel + cl;
      for (let ky = 0; ky < kh; ky++) {
        for (let kx = 0; kx < kw; kx++) {
          const tap = sign * kernel[((oc * cg + cl) * kh + ky) * kw + kx];
          if (tap === 0) continue;
          for (let oy = 0; oy < oh; oy++) {
            const iy = oy * sh - pt + ky * dh;
            if (iy < 0 || iy >= h) continue;
            for (let ox = 0; ox < ow; ox++) {
              const ix = ox * sw - pl + kx * dw;
              if (ix < 0 || ix >= w) continue;
              const row = (oc * oh + oy) * ow + ox;
              const column = (channel * h + iy) * w + ix -
                Math.floor(row / outputsPerGroup) * perGroup;
              weight[row * perGroup + column] += tap;
            }
          }
        }
      }
    }
  }
  const b = constant(conv.inputs[2]);
  if (bias && b) {
    for (let oc = 0; oc < o; oc++) {
      for (let p = 0; p < oh * ow; p++) bias[oc * oh * ow + p] += sign * b[oc];
    }
  }
}

/** A term whose node is a conv or an FC. */
type LayerTerm<L extends Conv | Linear> = { readonly node: L; readonly sign: 1 | -1 };

/** `sign` times the FC, with every conv of `convs` injected with its own sign. */
function inject(
  { node: fc, sign }: LayerTerm<Linear>,
  convs: readonly LayerTerm<Conv>[],
  names: NameTable,
  reuse: boolean,
): Linear {
  const groups = convs.reduce((g, { node }) => gcd(g, node.attrs.groups), fc.attrs.groups);
  // fc3's folded weight is tens of MB in RepMLPNet; when it is this run's scratch, add in place.
  const weight = reuse && groups === fc.attrs.groups
    ? constant(fc.inputs[1])!
    : regroup(fc, groups);
  if (sign < 0) { for (let i = 0; i < weight.length; i++) weight[i] = -weight[i]; }
  const n = fc.inputs[1].type.shape[0];
  const hasBias = fc.inputs[2] !== undefined || convs.some(({ node }) => node.inputs[2]);
  const bias = hasBias
    ? Float64Array.from(constant(fc.inputs[2]) ?? new Float32Array(n), (b) => sign * b)
    : undefined;
  for (const conv of convs) addTaps(weight, bias, conv, groups);
  const source = expectOp(fc.inputs[1], "weight").attrs.name;
  const inputs: Node[] = [
    fc.inputs[0],
    makeWeight(names.derive(source, "local", "weight"), [n, weight.length / n], weight),
  ];
  if (bias) inputs.push(makeWeight(names.derive(source, "local", "bias"), [n], toFloat32(bias)));
  return makeNode("linear", inputs, { groups });
}

/** Explains convs summed with an FC that reaches the sum through a transpose. */
function explainTransposed(sum: Sum, conv: Conv, context: PassContext): void {
  for (const { node: leaf } of sum.terms) {
    let node = leaf;
    while (node.op === "transpose" || node.op === "reshape" || node.op === "flatten") {
      node = node.inputs[0];
    }
    if (node.op === "linear" && node !== leaf) {
      context.explain(
        conv,
        `not injected into ${context.describe(node)}: the FC reaches the sum through ${
          context.describe(leaf)
        }, so its rows are not the conv's images`,
      );
    }
  }
}

const isLayerTerm =
  <O extends "conv2d" | "linear">(op: O) => (term: Term): term is LayerTerm<Node<O>> =>
    term.node.op === op;

function injectSum(sum: Sum, { uses, names, context }: SumEnv): Node | undefined {
  const fcs = sum.terms.filter(isLayerTerm("linear"));
  const targets = new Map<LayerTerm<Linear>, LayerTerm<Conv>[]>();
  for (const term of sum.terms.filter(isLayerTerm("conv2d"))) {
    const conv = term.node;
    if (fcs.length === 0) {
      explainTransposed(sum, conv, context);
      continue;
    }
    const problems = fcs.map((fc) => injectionProblem(conv, fc.node, uses, context));
    const index = problems.findIndex((problem) => problem === undefined);
    if (index < 0) {
      context.explain(conv, `not injected into ${context.describe(fcs[0].node)}: ${problems[0]}`);
      continue;
    }
    targets.set(fcs[index], [...(targets.get(fcs[index]) ?? []), term]);
  }
  if (targets.size === 0) return undefined;
  const injected = new Map<Term, Node>();
  for (const [fc, convs] of targets) {
    const weight = fc.node.inputs[1];
    const reuse = uses.only(weight) && (context.reusable?.(weight) ?? false);
    injected.set(fc, inject(fc, convs, names, reuse));
  }
  const used = new Set<Term>([...targets.values()].flat());
  const terms: Term[] = sum.terms.flatMap((term): Term[] => {
    if (used.has(term)) return [];
    // A twice-summed FC keeps its second copy as it was: the convs count once.
    const value = injected.get(term);
    return [value ? { node: value, sign: 1 } : term];
  });
  return buildSum(terms, sum.root.type.shape);
}

/** The conv-into-fc pass. */
export const convIntoFc: Pass = {
  name: "conv-into-fc",
  summary:
    "inject conv branches into the FC they are summed with when the conv's images are the FC's rows",
  run: (graph, context) => rewriteSums(graph, context, injectSum),
};
