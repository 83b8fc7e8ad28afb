/**
 * Plain ResNet-50 (torchvision's layout and state_dict keys: conv1, bn1,
 * layer{1..4}.{i}.conv1/bn1/.../downsample.{0,1}, fc), plus the bottleneck
 * block and stem that RepMLP-ResNet reuses under the official RepMLP names.
 * Stride sits on the 3x3 conv (ResNet v1.5), as in both torchvision and the
 * official RepMLP `BaseBlock`.
 */
import type { Graph, Node } from "../ir/mod.ts";
import { bnCount, convBn, type ConvBnNames, convBnRelu, linear } from "./_layers.ts";
import { batchOf, type BuildOptions, Params, requireConfig } from "./_weights.ts";

/** Keys of one bottleneck block's four conv+BN pairs. */
export interface BottleneckNames {
  readonly conv1: ConvBnNames;
  readonly conv2: ConvBnNames;
  readonly conv3: ConvBnNames;
  /** Used only when the block changes stride or width. */
  readonly shortcut: ConvBnNames;
}

/** Widths and stride of one bottleneck block. */
export interface BottleneckSpec {
  readonly inChannels: number;
  readonly midChannels: number;
  readonly outChannels: number;
  readonly stride: number;
}

/** torchvision's keys for `layer{stage}.{index}`. */
export function torchvisionBottleneckNames(prefix: string): BottleneckNames {
  const pair = (i: number) => ({ conv: `${prefix}.conv${i}.weight`, bn: `${prefix}.bn${i}` });
  return {
    conv1: pair(1),
    conv2: pair(2),
    conv3: pair(3),
    shortcut: { conv: `${prefix}.downsample.0.weight`, bn: `${prefix}.downsample.1` },
  };
}

/** Whether a block needs a projection shortcut (1x1 conv+BN) instead of the identity. */
export const needsProjection = (spec: BottleneckSpec): boolean =>
  spec.stride !== 1 || spec.inChannels !== spec.outChannels;

/** 1x1 conv+BN+ReLU, 3x3 (strided) conv+BN+ReLU, 1x1 conv+BN, plus shortcut, then ReLU. */
export function bottleneckBlock(
  p: Params,
  x: Node,
  names: BottleneckNames,
  spec: BottleneckSpec,
): Node {
  const { midChannels: mid, outChannels: out, stride } = spec;
  let y = convBnRelu(p, x, names.conv1, { out: mid, kernel: 1 });
  y = convBnRelu(p, y, names.conv2, { out: mid, kernel: 3, stride, padding: 1 });
  y = convBn(p, y, names.conv3, { out, kernel: 1 });
  const shortcut = needsProjection(spec)
    ? convBn(p, x, names.shortcut, { out, kernel: 1, stride })
    : x;
  return p.builder.relu(p.builder.add(y, shortcut));
}

/** The ResNet stem: 7x7 stride-2 conv+BN+ReLU, then 3x3 stride-2 max pooling. */
export function resnetStem(p: Params, x: Node, names: ConvBnNames, width: number): Node {
  const y = convBnRelu(p, x, names, { out: width, kernel: 7, stride: 2, padding: 3 });
  return p.builder.maxpool(y, 3, { stride: 2, padding: 1 });
}

/** A torchvision-style ResNet with bottleneck blocks. */
export interface ResnetConfig {
  /** Blocks per stage; ResNet-50 is [3, 4, 6, 3]. */
  readonly blocks: readonly number[];
  /** Stem width and first stage's bottleneck width (64); stage s has width base * 2^s, output 4x that. */
  readonly baseWidth: number;
  readonly numClasses: number;
  readonly inChannels: number;
  readonly height: number;
  readonly width: number;
}

/** torchvision `resnet50()` at 224x224. */
export const RESNET50: ResnetConfig = {
  blocks: [3, 4, 6, 3],
  baseWidth: 64,
  numClasses: 1000,
  inChannels: 3,
  height: 224,
  width: 224,
};

/** A tiny torchvision-style ResNet (one block per stage). */
export const RESNET_TINY: ResnetConfig = {
  blocks: [1, 1, 1, 1],
  baseWidth: 4,
  numClasses: 10,
  inChannels: 3,
  height: 32,
  width: 32,
};

/** The bottleneck blocks of a ResNet in order, with their stage and index. */
export function resnetBlocks(config: ResnetConfig): (BottleneckSpec & { stage: number })[] {
  const specs: (BottleneckSpec & { stage: number })[] = [];
  let inChannels = config.baseWidth;
  config.blocks.forEach((count, stage) => {
    const mid = config.baseWidth * 2 ** stage;
    for (let i = 0; i < count; i++) {
      const stride = i === 0 && stage > 0 ? 2 : 1;
      specs.push({ stage, inChannels, midChannels: mid, outChannels: 4 * mid, stride });
      inChannels = 4 * mid;
    }
  });
  return specs;
}

function checkResnetConfig(config: ResnetConfig): void {
  const ok = config.blocks.length >= 1 && config.blocks.every((n) => n >= 1) &&
    [config.baseWidth, config.numClasses, config.inChannels, config.height, config.width]
      .every((n) => Number.isSafeInteger(n) && n >= 1);
  requireConfig(ok, "resnet", "blocks, widths, classes and sizes must be integers >= 1");
}

/** ResNet training-time graph: input "x" (N, 3, H, W), output "logits" (N, classes). */
export function buildResnet(config: ResnetConfig, options: BuildOptions = {}): Graph {
  checkResnetConfig(config);
  requireConfig(!options.deploy, "resnet", "torchvision's ResNet has no deploy form");
  const p = new Params("resnet", options);
  const b = p.builder;
  const batch = batchOf(options, "resnet");
  const x = b.input("x", [batch, config.inChannels, config.height, config.width]);
  let y = resnetStem(p, x, { conv: "conv1.weight", bn: "bn1" }, config.baseWidth);
  const index = new Map<number, number>();
  for (const spec of resnetBlocks(config)) {
    const i = index.get(spec.stage) ?? 0;
    index.set(spec.stage, i + 1);
    y = bottleneckBlock(p, y, torchvisionBottleneckNames(`layer${spec.stage + 1}.${i}`), spec);
  }
  // torchvision: avgpool (adaptive, 1x1), torch.flatten(x, 1), fc.
  y = b.flatten(b.globalAvgpool(y), 1);
  b.output("logits", linear(p, y, "fc", config.numClasses));
  return b.build();
}

/** [in, out, kernel] of every conv of a bottleneck block, shortcut included when present. */
export function bottleneckConvs(spec: BottleneckSpec): [number, number, number][] {
  const { inChannels: cin, midChannels: mid, outChannels: out } = spec;
  const convs: [number, number, number][] = [[cin, mid, 1], [mid, mid, 3], [mid, out, 1]];
  if (needsProjection(spec)) convs.push([cin, out, 1]);
  return convs;
}

/** Parameters of conv+BN pairs: training form (with BN statistics) or deployed (conv with bias). */
export function convBnCount(
  convs: readonly [number, number, number][],
  form: "training" | "deployed",
): number {
  let count = 0;
  for (const [cin, cout, k] of convs) {
    count += cin * cout * k * k + (form === "training" ? bnCount(cout) : cout);
  }
  return count;
}

function resnetCount(config: ResnetConfig, form: "training" | "deployed"): number {
  const convs: [number, number, number][] = [[config.inChannels, config.baseWidth, 7]];
  for (const spec of resnetBlocks(config)) convs.push(...bottleneckConvs(spec));
  const features = 4 * config.baseWidth * 2 ** (config.blocks.length - 1);
  return convBnCount(convs, form) + features * config.numClasses + config.numClasses;
}

/** Parameters and BN statistics of the training-time model (torchvision's state_dict, less num_batches_tracked). */
export const resnetTrainingParameters = (config: ResnetConfig): number =>
  resnetCount(config, "training");

/** Parameters of the deployed model: every BN folded into its conv as a bias. */
export const resnetDeployedParameters = (config: ResnetConfig): number =>
  resnetCount(config, "deployed");
