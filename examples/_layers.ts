/**
 * Layers shared by the example builders, each written the way PyTorch's
 * modules compute it: Conv2d (no bias) followed by BatchNorm2d, nn.Linear,
 * a 1x1 Conv2d with bias.
 */
import type { Node } from "../ir/mod.ts";
import type { Params } from "./_weights.ts";

/** Where a conv+BN pair keeps its parameters: the conv weight key and the BN prefix. */
export interface ConvBnNames {
  readonly conv: string;
  readonly bn: string;
  /** Deploy form: the BN is folded away and the conv has this bias instead. */
  readonly fusedBias?: string;
}

/** The names of `nn.Sequential(conv=..., bn=...)` under `prefix`: `prefix.conv.weight`, `prefix.bn.*`. */
export function sequentialNames(prefix: string): ConvBnNames {
  return { conv: `${prefix}.conv.weight`, bn: `${prefix}.bn` };
}

/**
 * The names of the official RepMLP `ConvBN` module under `prefix`: as
 * `sequentialNames` when training; after `switch_to_deploy` (`p.deploy`) a conv
 * with bias, `prefix.conv.{weight,bias}`, and no BN.
 */
export function convBnModuleNames(p: Params, prefix: string): ConvBnNames {
  const names = sequentialNames(prefix);
  return p.deploy ? { ...names, fusedBias: `${prefix}.conv.bias` } : names;
}

/** A conv's geometry. */
export interface ConvSpec {
  readonly out: number;
  readonly kernel: number | readonly [number, number];
  readonly stride?: number | readonly [number, number];
  readonly padding?: number;
  readonly groups?: number;
}

const pair = (v: number | readonly [number, number]): [number, number] =>
  typeof v === "number" ? [v, v] : [v[0], v[1]];

/** Conv2d(bias=False) then BatchNorm2d; in deploy form (`names.fusedBias`) a conv with bias. */
export function convBn(p: Params, x: Node, names: ConvBnNames, spec: ConvSpec): Node {
  const groups = spec.groups ?? 1;
  const [kh, kw] = pair(spec.kernel);
  const fanIn = (x.type.shape[1] / groups) * kh * kw;
  const kernel = p.kernel(names.conv, [spec.out, x.type.shape[1] / groups, kh, kw]);
  const bias = names.fusedBias ? p.bias(names.fusedBias, spec.out, fanIn) : undefined;
  const conv = p.builder.conv2d(x, kernel, bias, {
    stride: pair(spec.stride ?? 1),
    padding: spec.padding ?? 0,
    groups,
  });
  return names.fusedBias ? conv : p.batchnorm(conv, names.bn);
}

/** Conv2d(bias=False), BatchNorm2d, ReLU (or its deploy form, see `ConvBnNames.fusedBias`). */
export function convBnRelu(p: Params, x: Node, names: ConvBnNames, spec: ConvSpec): Node {
  return p.builder.relu(convBn(p, x, names, spec));
}

/** nn.Linear(in, out) over the last axis: `prefix.weight` [out, in], `prefix.bias` [out]. */
export function linear(p: Params, x: Node, prefix: string, out: number): Node {
  const inFeatures = x.type.shape[x.type.shape.length - 1];
  const weight = p.kernel(`${prefix}.weight`, [out, inFeatures]);
  return p.builder.linear(x, weight, p.bias(`${prefix}.bias`, out, inFeatures));
}

/** nn.Conv2d(in, out, 1, bias=True): `prefix.weight` [out, in, 1, 1], `prefix.bias` [out]. */
export function conv1x1Bias(p: Params, x: Node, prefix: string, out: number): Node {
  const inChannels = x.type.shape[1];
  const weight = p.kernel(`${prefix}.weight`, [out, inChannels, 1, 1]);
  return p.builder.conv2d(x, weight, p.bias(`${prefix}.bias`, out, inChannels));
}

/** Parameters plus running statistics of a BatchNorm over `channels`. */
export const bnCount = (channels: number): number => 4 * channels;

/** Parameters of a conv with bias (the deployed form of conv+BN). */
export const convBiasCount = (cin: number, cout: number, k: number, groups = 1): number =>
  (cin / groups) * cout * k * k + cout;
