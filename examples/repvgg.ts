/**
 * RepVGG (CVPR 2021, official `repvgg.py`): stage0 (3 -> min(64, 64a)
 * channels, stride 2), four stages of RepVGG blocks (the first of each
 * strided), global average pool, linear. A training-time block is
 * relu(BN(conv3x3(x)) + BN(conv1x1(x)) + BN(x)), the identity BN only when
 * C = O and the stride is 1; the deployed block (`rbr_reparam`) is one 3x3
 * conv with bias and the ReLU. The g2/g4 variants give the official
 * `optional_groupwise_layers` (2, 4, ..., 26, counted from stage1's first
 * block) 2 or 4 groups.
 *
 * Keys: `stage0.*`, `stage{s}.{i}.rbr_dense.{conv.weight,bn.*}`,
 * `.rbr_1x1.{conv.weight,bn.*}`, `.rbr_identity.*`, `linear.{weight,bias}`;
 * with `deploy`, `stage{s}.{i}.rbr_reparam.{weight,bias}` instead of the
 * branches (what `repvgg_model_convert` saves).
 */
import type { Graph, Node } from "../ir/mod.ts";
import { bnCount, convBn, type ConvBnNames, linear, sequentialNames } from "./_layers.ts";
import { batchOf, type BuildOptions, Params, requireConfig } from "./_weights.ts";

/** Arguments of the official `RepVGG` constructor, plus the input size. */
export interface RepvggConfig {
  /** Blocks per stage, stage1..stage4. */
  readonly numBlocks: readonly [number, number, number, number];
  readonly widthMultiplier: readonly [number, number, number, number];
  /** Groups of the blocks at these layer indices (1 = stage1's first block); others have 1. */
  readonly overrideGroupsMap?: Readonly<Record<number, number>>;
  readonly numClasses: number;
  readonly height: number;
  readonly width: number;
}

const OPTIONAL_GROUPWISE_LAYERS = [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26];
const groupsMap = (groups: number) =>
  Object.fromEntries(OPTIONAL_GROUPWISE_LAYERS.map((layer) => [layer, groups]));

function official(
  numBlocks: RepvggConfig["numBlocks"],
  widthMultiplier: RepvggConfig["widthMultiplier"],
  groups = 1,
): RepvggConfig {
  return {
    numBlocks,
    widthMultiplier,
    overrideGroupsMap: groups > 1 ? groupsMap(groups) : undefined,
    numClasses: 1000,
    height: 224,
    width: 224,
  };
}

const A = [2, 4, 14, 1] as const, B = [4, 6, 16, 1] as const;

/** Every official RepVGG, by its `func_dict` name. */
export const REPVGG_CONFIGS: Readonly<Record<string, RepvggConfig>> = {
  "RepVGG-A0": official(A, [0.75, 0.75, 0.75, 2.5]),
  "RepVGG-A1": official(A, [1, 1, 1, 2.5]),
  "RepVGG-A2": official(A, [1.5, 1.5, 1.5, 2.75]),
  "RepVGG-B0": official(B, [1, 1, 1, 2.5]),
  "RepVGG-B1": official(B, [2, 2, 2, 4]),
  "RepVGG-B1g2": official(B, [2, 2, 2, 4], 2),
  "RepVGG-B1g4": official(B, [2, 2, 2, 4], 4),
  "RepVGG-B2": official(B, [2.5, 2.5, 2.5, 5]),
  "RepVGG-B2g2": official(B, [2.5, 2.5, 2.5, 5], 2),
  "RepVGG-B2g4": official(B, [2.5, 2.5, 2.5, 5], 4),
  "RepVGG-B3": official(B, [3, 3, 3, 5]),
  "RepVGG-B3g2": official(B, [3, 3, 3, 5], 2),
  "RepVGG-B3g4": official(B, [3, 3, 3, 5], 4),
};

/** One block of the network: its key prefix, widths, stride and groups. */
export interface RepvggBlockSpec {
  readonly prefix: string;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly stride: number;
  readonly groups: number;
}

/** Every block of a config in order, with the official keys and groups. */
export function repvggBlocks(config: RepvggConfig): RepvggBlockSpec[] {
  const a = config.widthMultiplier;
  let inPlanes = Math.min(64, Math.trunc(64 * a[0]));
  const blocks: RepvggBlockSpec[] = [
    { prefix: "stage0", inChannels: 3, outChannels: inPlanes, stride: 2, groups: 1 },
  ];
  let layer = 1;
  [64, 128, 256, 512].forEach((base, s) => {
    const planes = Math.trunc(base * a[s]);
    for (let i = 0; i < config.numBlocks[s]; i++) {
      const groups = config.overrideGroupsMap?.[layer] ?? 1;
      blocks.push({
        prefix: `stage${s + 1}.${i}`,
        inChannels: inPlanes,
        outChannels: planes,
        stride: i === 0 ? 2 : 1,
        groups,
      });
      inPlanes = planes;
      layer++;
    }
  });
  return blocks;
}

const hasIdentity = (block: RepvggBlockSpec) =>
  block.inChannels === block.outChannels && block.stride === 1;

/**
 * The names of a converted block (`switch_to_deploy` / `repvgg_model_convert`): one conv with
 * bias, `prefix.rbr_reparam.{weight,bias}`.
 */
export function reparamConvNames(prefix: string, module: string): ConvBnNames {
  return { conv: `${prefix}.${module}.weight`, bn: "", fusedBias: `${prefix}.${module}.bias` };
}

/**
 * One RepVGG block on `x`: the training-time branches, or, when `p.deploy`
 * (`BuildOptions.deploy`), the converted conv.
 */
export function repvggBlock(p: Params, x: Node, block: RepvggBlockSpec): Node {
  const { prefix, outChannels: out, stride, groups } = block;
  const dense = { out, kernel: 3, stride, padding: 1, groups };
  if (p.deploy) return p.builder.relu(convBn(p, x, reparamConvNames(prefix, "rbr_reparam"), dense));
  const names = (branch: string) => sequentialNames(`${prefix}.${branch}`);
  const sum = p.builder.add(
    convBn(p, x, names("rbr_dense"), dense),
    convBn(p, x, names("rbr_1x1"), { out, kernel: 1, stride, groups }),
  );
  return p.builder.relu(
    hasIdentity(block) ? p.builder.add(sum, p.batchnorm(x, `${prefix}.rbr_identity`)) : sum,
  );
}

function checkConfig(config: RepvggConfig): void {
  const name = "RepVGG";
  requireConfig(
    config.numBlocks.every((n) => Number.isSafeInteger(n) && n >= 1),
    name,
    `numBlocks [${config.numBlocks}] must be integers >= 1`,
  );
  requireConfig(
    config.widthMultiplier.every((a) => a > 0 && Math.trunc(64 * a) >= 1),
    name,
    `widthMultiplier [${config.widthMultiplier}] leaves a stage without channels`,
  );
  for (const block of repvggBlocks(config)) {
    requireConfig(
      block.inChannels % block.groups === 0 && block.outChannels % block.groups === 0,
      name,
      `${block.prefix} has ${block.inChannels} -> ${block.outChannels} channels, not divisible ` +
        `by its ${block.groups} groups`,
    );
  }
  requireConfig(
    config.height >= 32 && config.width >= 32,
    name,
    `input ${config.height}x${config.width} must be at least 32x32 (five stride-2 stages)`,
  );
}

/**
 * The RepVGG network of `config`: training-time branches, or with `options.deploy` the
 * converted network (keys of the checkpoint `repvgg_model_convert` saves).
 */
export function buildRepvgg(config: RepvggConfig, options: BuildOptions = {}): Graph {
  checkConfig(config);
  const batch = batchOf(options, "RepVGG");
  const p = new Params("repvgg", { ...options, kernelGain: 1 });
  const image = p.builder.input("x", [batch, 3, config.height, config.width]);
  let x: Node = image;
  for (const block of repvggBlocks(config)) x = repvggBlock(p, x, block);
  const channels = x.type.shape[1];
  const pooled = p.builder.reshape(p.builder.globalAvgpool(x), [batch, channels]);
  p.builder.output("logits", linear(p, pooled, "linear", config.numClasses));
  return p.builder.build();
}

/**
 * Parameters (with BN running statistics) of the training-time module, or of the converted
 * one (`deploy`): the RepVGG paper's parameter counts are the latter.
 */
export function repvggParameters(config: RepvggConfig, form: "training" | "deploy"): number {
  let total = 0;
  for (const block of repvggBlocks(config)) {
    const { inChannels: c, outChannels: o, groups: g } = block;
    total += form === "deploy"
      ? (c / g) * o * 9 + o
      : (c / g) * o * (9 + 1) + 2 * bnCount(o) + (hasIdentity(block) ? bnCount(c) : 0);
  }
  const last = Math.trunc(512 * config.widthMultiplier[3]);
  return total + last * config.numClasses + config.numClasses;
}
