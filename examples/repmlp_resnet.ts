/**
 * RepMLP-ResNet (official `repmlp_resnet.py`): ResNet-50's layout, where
 * every stride-1 block of the stages at total downsampling 8 and 16 (28x28 and
 * 14x14 at 224 input) is a Light or Bottleneck RepMLP block; all other blocks
 * are the plain `BaseBlock`. Keys: `stage0.0.{conv,bn}` (stem),
 * `stage{1..4}.{i}.*`, `linear.{weight,bias}`.
 *
 * Widths are configurable (official: stem 64, stages 256/512/1024/2048) so that
 * tests can build narrow networks with the same structure.
 */
import type { Graph } from "../ir/mod.ts";
import { convBnModuleNames, linear } from "./_layers.ts";
import { batchOf, type BuildOptions, Params, requireConfig } from "./_weights.ts";
import {
  repmlpResnetBlock,
  type RepmlpResnetBlockConfig,
  repmlpResnetBlockDeployedParameters,
  repmlpResnetBlockTrainingParameters,
} from "./repmlp_resnet_blocks.ts";
import {
  bottleneckBlock,
  bottleneckConvs,
  type BottleneckNames,
  type BottleneckSpec,
  convBnCount,
  resnetStem,
} from "./resnet.ts";

/** Arguments of the official `RepMLPResNet`, plus the widths it hard-codes. */
export interface RepmlpResnetConfig {
  /** Blocks per stage, [3, 4, 6, 3] for the -50 models. */
  readonly numBlocks: readonly [number, number, number, number];
  readonly numClasses: number;
  /** "base" is plain ResNet-50 under the official RepMLP keys. */
  readonly blockType: "base" | "light" | "bottleneck";
  readonly imgH: number;
  readonly imgW: number;
  readonly h: number;
  readonly w: number;
  readonly reparamConvK: readonly number[];
  readonly fc1Fc2Reduction: number;
  readonly fc3Groups: number;
  /** Bottleneck r of the stages at downsampling 8 and 16; official (2, 4). */
  readonly bottleneckR: readonly [number, number];
  /** Stem width (official 64). */
  readonly stemChannels: number;
  /** Output widths of stages 1-4 (official 256, 512, 1024, 2048). */
  readonly channels: readonly [number, number, number, number];
}

/** The official -50 model at any resolution (multiple of 32; h, w must divide imgH/16, imgW/16). */
export function repmlpRes50Config(
  blockType: "light" | "bottleneck",
  imgH = 224,
  imgW = imgH,
): RepmlpResnetConfig {
  return {
    numBlocks: [3, 4, 6, 3],
    numClasses: 1000,
    blockType,
    imgH,
    imgW,
    h: 7,
    w: 7,
    reparamConvK: [1, 3, 5],
    fc1Fc2Reduction: 1,
    fc3Groups: blockType === "light" ? 4 : 8,
    bottleneckR: [2, 4],
    stemChannels: 64,
    channels: [256, 512, 1024, 2048],
  };
}

/** `create_RepMLPRes50_Light_224`. */
export const REPMLP_RES50_LIGHT_224: RepmlpResnetConfig = repmlpRes50Config("light");
/** `create_RepMLPRes50_Bottleneck_224`. */
export const REPMLP_RES50_BOTTLENECK_224: RepmlpResnetConfig = repmlpRes50Config("bottleneck");

/** A tiny RepMLP-ResNet: 64x64 input, narrow stages; stage 2 has a global perceptron, stage 3 not. */
export const REPMLP_RESNET_TINY: RepmlpResnetConfig = {
  numBlocks: [1, 2, 2, 1],
  numClasses: 10,
  blockType: "light",
  imgH: 64,
  imgW: 64,
  h: 4,
  w: 4,
  reparamConvK: [1, 3, 5],
  fc1Fc2Reduction: 1,
  fc3Groups: 2,
  bottleneckR: [2, 4],
  stemChannels: 8,
  channels: [16, 32, 64, 128],
};

/** One block of the network as `_make_stage` chooses it. */
export type PlannedBlock =
  | { readonly kind: "base"; readonly prefix: string; readonly spec: BottleneckSpec }
  | {
    readonly kind: "light" | "bottleneck";
    readonly prefix: string;
    readonly config: RepmlpResnetBlockConfig;
  };

/** The blocks in order, following the official `_make_stage`. */
export function planRepmlpResnet(config: RepmlpResnetConfig): PlannedBlock[] {
  const model = "repmlp-resnet";
  const counts = [config.imgH, config.imgW, config.stemChannels, config.numClasses];
  requireConfig(
    [...config.numBlocks, ...counts, ...config.channels].every((n) =>
      Number.isSafeInteger(n) && n >= 1
    ),
    model,
    "block counts, widths, classes and image size must be integers >= 1",
  );
  const plan: PlannedBlock[] = [];
  let inChannels = config.stemChannels;
  config.channels.forEach((channels, index) => {
    const ratio = 4 * 2 ** index;
    for (let i = 0; i < config.numBlocks[index]; i++) {
      const stride = i === 0 && index > 0 ? 2 : 1;
      const prefix = `stage${index + 1}.${i}`;
      if (config.blockType === "base" || stride === 2 || (ratio !== 8 && ratio !== 16)) {
        const spec = { inChannels, midChannels: channels / 4, outChannels: channels, stride };
        requireConfig(channels % 4 === 0, model, `stage width ${channels} not divisible by 4`);
        plan.push({ kind: "base", prefix, spec });
      } else {
        const light = config.blockType === "light";
        requireConfig(channels % (light ? 8 : 4) === 0, model, `bad stage width ${channels}`);
        const blockConfig: RepmlpResnetBlockConfig = {
          inChannels,
          midChannels: light ? channels / 8 : channels / 4,
          outChannels: channels,
          r: light ? undefined : config.bottleneckR[ratio === 8 ? 0 : 1],
          H: Math.floor(config.imgH / ratio),
          W: Math.floor(config.imgW / ratio),
          h: config.h,
          w: config.w,
          reparamConvK: config.reparamConvK,
          fc1Fc2Reduction: config.fc1Fc2Reduction,
          fc3Groups: config.fc3Groups,
        };
        plan.push({ kind: config.blockType, prefix, config: blockConfig });
      }
      inChannels = channels;
    }
  });
  return plan;
}

/** The official keys of a `BaseBlock` under `prefix` (deploy form when `p.deploy`). */
export function baseBlockNames(p: Params, prefix: string): BottleneckNames {
  return {
    conv1: convBnModuleNames(p, `${prefix}.conv1`),
    conv2: convBnModuleNames(p, `${prefix}.conv2`),
    conv3: convBnModuleNames(p, `${prefix}.conv3`),
    shortcut: convBnModuleNames(p, `${prefix}.shortcut`),
  };
}

/**
 * Training-time graph (or, with `deploy`, the official converted structure):
 * input "x" (N, 3, imgH, imgW), output "logits" (N, classes).
 */
export function buildRepmlpResnet(config: RepmlpResnetConfig, options: BuildOptions = {}): Graph {
  const plan = planRepmlpResnet(config);
  const p = new Params(`repmlp_resnet_${config.blockType}`, options);
  const b = p.builder;
  const batch = batchOf(options, "repmlp-resnet");
  const x = b.input("x", [batch, 3, config.imgH, config.imgW]);
  let y = resnetStem(p, x, convBnModuleNames(p, "stage0.0"), config.stemChannels);
  for (const block of plan) {
    if (block.kind === "base") {
      y = bottleneckBlock(p, y, baseBlockNames(p, block.prefix), block.spec);
      continue;
    }
    const [, , height, width] = y.type.shape;
    requireConfig(
      height === block.config.H && width === block.config.W,
      `repmlp-resnet ${block.prefix}`,
      `feature map is ${height}x${width}, the official code sizes its RepMLP for ${block.config.H}x${block.config.W}`,
    );
    y = repmlpResnetBlock(p, y, block.prefix, block.kind, block.config);
  }
  // Official: AdaptiveAvgPool2d(1), out.view(out.size(0), -1), linear.
  y = b.reshape(b.globalAvgpool(y), [batch, -1]);
  b.output("logits", linear(p, y, "linear", config.numClasses));
  return b.build();
}

function count(config: RepmlpResnetConfig, form: "training" | "deployed"): number {
  let total = convBnCount([[3, config.stemChannels, 7]], form);
  for (const block of planRepmlpResnet(config)) {
    if (block.kind === "base") total += convBnCount(bottleneckConvs(block.spec), form);
    else if (form === "training") {
      total += repmlpResnetBlockTrainingParameters(block.kind, block.config);
    } else total += repmlpResnetBlockDeployedParameters(block.kind, block.config);
  }
  return total + config.channels[3] * config.numClasses + config.numClasses;
}

/** Parameters and BN statistics of the official training-time model. */
export const repmlpResnetTrainingParameters = (config: RepmlpResnetConfig): number =>
  count(config, "training");

/** Parameters of the deployed model: BNs folded, each RepMLP as three FCs (fc3 with bias). */
export const repmlpResnetDeployedParameters = (config: RepmlpResnetConfig): number =>
  count(config, "deployed");
