/**
 * RepMLPNet (CVPR 2022, official `repmlpnet.py`): patch embedding
 * (conv+BN+ReLU), stages of RepMLPNetUnits joined by 2x2 stride-2
 * conv+BN+ReLU embeddings, then head BN, global average pool and a linear
 * head. Keys: `conv_embedding.{conv,bn}`, `stages.{i}.{j}.*`,
 * `embeds.{i}.{conv,bn}`, `head_norm.*`, `head.{weight,bias}`.
 */
import type { Graph, Node } from "../ir/mod.ts";
import { bnCount, convBnRelu, linear, sequentialNames } from "./_layers.ts";
import { batchOf, type BuildOptions, Params, requireConfig } from "./_weights.ts";
import { repmlpNetUnit, type RepmlpNetUnitConfig, unitParameters } from "./repmlpnet_block.ts";

/** Arguments of the official `RepMLPNet` constructor, plus the input size. */
export interface RepmlpNetConfig {
  readonly inChannels: number;
  readonly numClass: number;
  readonly patchSize: readonly [number, number];
  readonly numBlocks: readonly number[];
  readonly channels: readonly number[];
  readonly hs: readonly number[];
  readonly ws: readonly number[];
  readonly sharesetsNums: readonly number[];
  readonly reparamConvK: readonly number[];
  readonly globalperceptronReduce: number;
  /** Input height and width (the graph is static). */
  readonly imgH: number;
  readonly imgW: number;
}

function official(
  channels: number[],
  numBlocks: number[],
  sharesets: number[],
  size: 224 | 256,
): RepmlpNetConfig {
  const hs = size === 224 ? [56, 28, 14, 7] : [64, 32, 16, 8];
  return {
    inChannels: 3,
    numClass: 1000,
    patchSize: [4, 4],
    numBlocks,
    channels,
    hs,
    ws: hs,
    sharesetsNums: sharesets,
    reparamConvK: [1, 3],
    globalperceptronReduce: 4,
    imgH: size,
    imgW: size,
  };
}

/** `create_RepMLPNet_T224`. */
export const REPMLPNET_T224 = official([64, 128, 256, 512], [2, 2, 6, 2], [1, 4, 16, 128], 224);
/** `create_RepMLPNet_B224` (68.2M parameters in the paper). */
export const REPMLPNET_B224 = official([96, 192, 384, 768], [2, 2, 12, 2], [1, 4, 32, 128], 224);
/** RepMLPNet-T224's network at 256x256 (partitions 64/32/16/8). */
export const REPMLPNET_T256 = official([64, 128, 256, 512], [2, 2, 6, 2], [1, 4, 16, 128], 256);
/** `create_RepMLPNet_B256`. */
export const REPMLPNET_B256 = official([96, 192, 384, 768], [2, 2, 12, 2], [1, 4, 32, 128], 256);
/** `create_RepMLPNet_D256`. */
export const REPMLPNET_D256 = official([80, 160, 320, 640], [2, 2, 18, 2], [1, 4, 16, 128], 256);
/** `create_RepMLPNet_L256`. */
export const REPMLPNET_L256 = official([96, 192, 384, 768], [2, 2, 18, 2], [1, 4, 32, 256], 256);

/** A small config for tests: 2 stages, S > 1 and 4 partitions per stage (so the fc3 row quirk shows). */
export const REPMLPNET_TINY: RepmlpNetConfig = {
  inChannels: 3,
  numClass: 10,
  patchSize: [4, 4],
  numBlocks: [2, 1],
  channels: [8, 16],
  hs: [4, 2],
  ws: [4, 2],
  sharesetsNums: [2, 4],
  reparamConvK: [1, 3],
  globalperceptronReduce: 4,
  imgH: 32,
  imgW: 32,
};

function unitConfig(config: RepmlpNetConfig, stage: number): RepmlpNetUnitConfig {
  return {
    channels: config.channels[stage],
    h: config.hs[stage],
    w: config.ws[stage],
    reparamConvK: config.reparamConvK,
    globalperceptronReduce: config.globalperceptronReduce,
    numSharesets: config.sharesetsNums[stage],
    ffnExpand: 4,
  };
}

function checkConfig(config: RepmlpNetConfig): void {
  const stages = config.numBlocks.length;
  const lists = [config.channels, config.hs, config.ws, config.sharesetsNums];
  requireConfig(
    stages >= 1 && lists.every((list) => list.length === stages),
    "repmlpnet",
    "num_blocks, channels, hs, ws and sharesets_nums must have one entry per stage",
  );
  const counts = [config.inChannels, config.numClass, ...config.patchSize, ...config.numBlocks];
  requireConfig(
    counts.every((n) => Number.isSafeInteger(n) && n >= 1),
    "repmlpnet",
    "in_channels, num_class, patch_size and num_blocks must be integers >= 1",
  );
}

/** Training-time graph: input "x" (N, 3, imgH, imgW), output "logits" (N, numClass). */
export function buildRepmlpNet(config: RepmlpNetConfig, options: BuildOptions = {}): Graph {
  checkConfig(config);
  // PyTorch's own gain: pre-norm units compound (see _weights.ts).
  const p = new Params("repmlpnet", { ...options, kernelGain: 1 });
  const b = p.builder;
  const batch = batchOf(options, "repmlpnet");
  const x = b.input("x", [batch, config.inChannels, config.imgH, config.imgW]);
  const [ph, pw] = config.patchSize;
  let y: Node = convBnRelu(p, x, sequentialNames("conv_embedding"), {
    out: config.channels[0],
    kernel: [ph, pw],
    stride: [ph, pw],
  });
  config.numBlocks.forEach((count, stage) => {
    for (let j = 0; j < count; j++) {
      y = repmlpNetUnit(p, y, `stages.${stage}.${j}`, unitConfig(config, stage));
    }
    if (stage < config.numBlocks.length - 1) {
      y = convBnRelu(p, y, sequentialNames(`embeds.${stage}`), {
        out: config.channels[stage + 1],
        kernel: 2,
        stride: 2,
      });
    }
  });
  y = p.batchnorm(y, "head_norm");
  // Official: F.adaptive_avg_pool2d(x, 1), x.view(x.size(0), -1), head.
  y = b.reshape(b.globalAvgpool(y), [batch, -1]);
  b.output("logits", linear(p, y, "head", config.numClass));
  return b.build();
}

/** Which form to count: "training" (parameters and BN statistics), "official", "folded". */
export type RepmlpNetForm = "training" | "official" | "folded";

/**
 * Parameter count of a form:
 * - "training": the official training-time module (state_dict less num_batches_tracked);
 * - "official": after the official `locality_injection`, which converts only the RepMLP
 *   blocks (fc3 gains a bias of S*h*w; prebn1/prebn2, FFN conv+BN pairs, embedding BNs and
 *   head_norm stay), so it can exceed the training count;
 * - "folded": every BN folded where exact (into convs, into ffn_fc1, head_norm into head),
 *   prebn1 left as a per-channel scale and shift (2C).
 */
export function repmlpNetParameters(config: RepmlpNetConfig, form: RepmlpNetForm): number {
  checkConfig(config);
  // A conv+BN pair keeps its BN (4 per channel) unless folded into a bias (1 per channel).
  const bnOrBias = (c: number) => (form === "folded" ? c : bnCount(c));
  const [ph, pw] = config.patchSize;
  const c0 = config.channels[0];
  let total = config.inChannels * c0 * ph * pw + bnOrBias(c0);
  config.numBlocks.forEach((count, stage) => {
    total += count * unitParameters(unitConfig(config, stage))[form];
    if (stage < config.numBlocks.length - 1) {
      const next = config.channels[stage + 1];
      total += config.channels[stage] * next * 4 + bnOrBias(next);
    }
  });
  const last = config.channels[config.channels.length - 1];
  const headNorm = form === "folded" ? 0 : bnCount(last);
  return total + headNorm + last * config.numClass + config.numClass;
}

/** The deployed count as the official conversion leaves the model (see `repmlpNetParameters`). */
export const repmlpNetDeployedParameters = (config: RepmlpNetConfig): number =>
  repmlpNetParameters(config, "official");
