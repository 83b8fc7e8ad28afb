/**
 * Conv forms: every linear map that re-parameterized blocks sum or chain,
 * written as one conv2d in float64, so that merging and composing are the
 * same arithmetic whatever the branch was:
 *
 *   conv2d(x, K, b)                    K, b as they are
 *   x                                  groups C, 1x1 kernel of ones (C = O)
 *   avgpool_k(x), padding counted      groups C, k taps of 1/(kh*kw)
 *   s * f(x) + t, s and t per channel  K'[o] = s[o] K[o], b'[o] = s[o] b[o] + t[o]
 *   -f(x)                              s = -1
 *
 * A form remembers the nodes of the input graph it stands for and what they
 * cost, so that a pass can tell whether replacing them pays.
 */
import {
  expectOp,
  makeNode,
  makeWeight,
  type Node,
  nodeFlops,
  sizeOf,
  toFloat32,
  type Window2d,
  windowOf,
} from "../../ir/mod.ts";
import type { NameTable } from "./_names.ts";
import { constant } from "./_rewrite.ts";

/** A conv2d of `input`, weights in float64. */
export interface ConvForm {
  /** The NCHW tensor the map reads. */
  readonly input: Node;
  /** [N, O, oh, ow]. */
  readonly outShape: readonly number[];
  readonly groups: number;
  readonly window: Window2d;
  /** [O, C/groups, kh, kw]. */
  readonly weight: Float64Array;
  /** [O]. */
  readonly bias: Float64Array;
  /** The input graph's nodes this form replaces (a conv, a pool, the scales and sums around it). */
  readonly sources: readonly Node[];
  /** The cost of `sources` (see nodeCost). */
  readonly cost: number;
}

/** A form, or the reason a node is not one. */
export type FormResult = { form: ConvForm } | { reason: string };

/**
 * A float read or written costs about as much as this many FLOPs: one wasm
 * thread on this project's machine, quiet, streams about 37 GB/s and
 * computes about 54 GFLOP/s (bench/wasm_bench.ts measures both), so moving
 * 4 bytes takes as long as about 6 FLOPs. Merging small kernels into a larger
 * one can pay although it adds FLOPs, since it saves whole passes over the
 * activations; a dense kernel grown from a depthwise one never does.
 */
export const MOVE_COST = 6;

/** What running `node` costs: its FLOPs plus MOVE_COST per activation value it reads or writes. */
export function nodeCost(node: Node): number {
  if (node.op === "weight" || node.op === "input") return 0;
  const moved = node.inputs.filter((input) => input.op !== "weight")
    .reduce((total, input) => total + sizeOf(input.type.shape), sizeOf(node.type.shape));
  return nodeFlops(node) + MOVE_COST * moved;
}

/** What the conv a form becomes costs, measured as nodeCost measures. */
export function formCost(form: ConvForm): number {
  const [, cg, kh, kw] = formWeightShape(form);
  const outputs = sizeOf(form.outShape);
  const flops = outputs * (2 * cg * kh * kw + (form.bias.some((b) => b !== 0) ? 1 : 0));
  return flops + MOVE_COST * (outputs + sizeOf(form.input.type.shape));
}

/** [O, C/groups, kh, kw] of a form. */
export function formWeightShape(form: ConvForm): [number, number, number, number] {
  const channels = form.input.type.shape[1];
  const [kh, kw] = form.window.kernel;
  return [form.outShape[1], channels / form.groups, kh, kw];
}

/** The form of a conv with constant kernel and bias. */
export function convForm(conv: Node<"conv2d">): FormResult {
  const [x, w, b] = conv.inputs;
  const weight = constant(w), bias = b ? constant(b) : new Float32Array(conv.type.shape[1]);
  if (!weight || !bias) return { reason: "its kernel or bias is computed, not constant" };
  return {
    form: {
      input: x,
      outShape: conv.type.shape,
      groups: conv.attrs.groups,
      window: windowOf(conv),
      weight: Float64Array.from(weight),
      bias: Float64Array.from(bias),
      sources: [conv],
      cost: nodeCost(conv),
    },
  };
}

/** The form of an average pool: a depthwise conv with constant taps, when padding counts. */
export function avgpoolForm(pool: Node<"avgpool">): FormResult {
  const { countIncludePad, pads } = pool.attrs;
  if (!countIncludePad && pads.some((pad) => pad > 0)) {
    return {
      reason: "it leaves the zero padding out of its divisor, so it is no conv with constant taps",
    };
  }
  const [kh, kw] = pool.attrs.kernel;
  const channels = pool.type.shape[1];
  return {
    form: {
      input: pool.inputs[0],
      outShape: pool.type.shape,
      groups: channels,
      window: windowOf(pool),
      weight: new Float64Array(channels * kh * kw).fill(1 / (kh * kw)),
      bias: new Float64Array(channels),
      sources: [pool],
      cost: nodeCost(pool),
    },
  };
}

/** x itself as a depthwise 1x1 conv of ones; undefined unless x is NCHW. */
export function identityForm(x: Node): ConvForm | undefined {
  if (x.type.shape.length !== 4) return undefined;
  const channels = x.type.shape[1];
  return {
    input: x,
    outShape: x.type.shape,
    groups: channels,
    window: { kernel: [1, 1], stride: [1, 1], pads: [0, 0, 0, 0], dilation: [1, 1] },
    weight: new Float64Array(channels).fill(1),
    bias: new Float64Array(channels),
    sources: [],
    cost: 0,
  };
}

/**
 * `scale[o] * form + shift[o]` (either may be undefined), standing for `source` too:
 * K'[o] = s[o] K[o], b'[o] = s[o] b[o] + t[o].
 */
export function affineForm(
  form: ConvForm,
  { scale, shift, source }: { scale?: ArrayLike<number>; shift?: ArrayLike<number>; source?: Node },
): ConvForm {
  const outputs = form.outShape[1];
  const row = form.weight.length / outputs;
  const weight = new Float64Array(form.weight.length), bias = new Float64Array(outputs);
  for (let o = 0; o < outputs; o++) {
    const s = scale ? scale[o] : 1;
    for (let i = o * row; i < (o + 1) * row; i++) weight[i] = form.weight[i] * s;
    bias[o] = form.bias[o] * s + (shift ? shift[o] : 0);
  }
  return {
    ...form,
    weight,
    bias,
    sources: source ? [...form.sources, source] : form.sources,
    cost: form.cost + (source ? nodeCost(source) : 0),
  };
}

/** -form. */
export function negated(form: ConvForm): ConvForm {
  return affineForm(form, { scale: new Float64Array(form.outShape[1]).fill(-1) });
}

/** The largest conv kernel among a form's sources, whose name the new weights derive from. */
function stemOf(form: ConvForm): string {
  let best: Node<"conv2d"> | undefined;
  for (const source of form.sources) {
    if (source.op !== "conv2d") continue;
    const size = (node: Node<"conv2d">) => node.inputs[1].type.shape.reduce((a, d) => a * d, 1);
    if (!best || size(source) > size(best)) best = source;
  }
  return best ? expectOp(best.inputs[1], "weight").attrs.name : "conv";
}

/** The conv2d node a form becomes; the bias is left out when it is zero. */
export function formConv(form: ConvForm, names: NameTable): Node<"conv2d"> {
  const stem = stemOf(form);
  const shape = formWeightShape(form);
  const inputs = [
    form.input,
    makeWeight(names.derive(stem, "merged", "weight"), shape, toFloat32(form.weight)),
  ];
  if (form.bias.some((b) => b !== 0)) {
    inputs.push(makeWeight(names.derive(stem, "merged", "bias"), [shape[0]], toFloat32(form.bias)));
  }
  const { stride, pads, dilation } = form.window;
  return makeNode("conv2d", inputs, { stride, pads, dilation, groups: form.groups });
}
