/**
 * MobileOne (CVPR 2023, official apple/ml-mobileone `mobileone.py`): stage0
 * (one block, 3 -> min(64, 64a) channels, stride 2), four stages of
 * depthwise-then-pointwise block pairs (the first pair of each strided),
 * global average pool, linear. A training-time block sums k conv+BN branches,
 * a 1x1 conv+BN scale branch (for k x k > 1 kernels) and a BN skip branch
 * (C = O, stride 1), optionally squeeze-excites the sum, then ReLU; the
 * deployed block (`reparam_conv`) is one conv with bias. S4 puts SE on the
 * last half of stage3's pairs and on stage4.
 *
 * Keys: `stage0.*`, `stage{s}.{i}.rbr_conv.{k}.{conv.weight,bn.*}`,
 * `.rbr_scale.{conv.weight,bn.*}`, `.rbr_skip.*`, `.se.{reduce,expand}.{weight,bias}`,
 * `linear.{weight,bias}`; with `deploy`, `.reparam_conv.{weight,bias}` instead of the
 * branches (what `reparameterize_model` leaves).
 */
import type { Graph, Node } from "../ir/mod.ts";
import { bnCount, conv1x1Bias, convBn, linear, sequentialNames } from "./_layers.ts";
import { batchOf, type BuildOptions, Params, requireConfig } from "./_weights.ts";
import { reparamConvNames } from "./repvgg.ts";

/** Arguments of the official `MobileOne` constructor, plus the input size. */
export interface MobileoneConfig {
  readonly numBlocksPerStage: readonly [number, number, number, number];
  readonly widthMultipliers: readonly [number, number, number, number];
  /** Conv branches per block (k); stage0 always has 1, as in the official code. */
  readonly numConvBranches: number;
  readonly useSe: boolean;
  readonly numClasses: number;
  readonly height: number;
  readonly width: number;
}

function official(
  widthMultipliers: MobileoneConfig["widthMultipliers"],
  extra: { numConvBranches?: number; useSe?: boolean } = {},
): MobileoneConfig {
  return {
    numBlocksPerStage: [2, 8, 10, 1],
    widthMultipliers,
    numConvBranches: extra.numConvBranches ?? 1,
    useSe: extra.useSe ?? false,
    numClasses: 1000,
    height: 224,
    width: 224,
  };
}

/** Every official MobileOne, by the name `mobileone(variant=...)` takes (the `PARAMS` table). */
export const MOBILEONE_CONFIGS: Readonly<Record<string, MobileoneConfig>> = {
  "MobileOne-S0": official([0.75, 1.0, 1.0, 2.0], { numConvBranches: 4 }),
  "MobileOne-S1": official([1.5, 1.5, 2.0, 2.5]),
  "MobileOne-S2": official([1.5, 2.0, 2.5, 4.0]),
  "MobileOne-S3": official([2.0, 2.5, 3.0, 4.0]),
  "MobileOne-S4": official([3.0, 3.5, 3.5, 4.0], { useSe: true }),
};

/** One MobileOne block: key prefix, widths, kernel, stride, groups, branches, SE. */
export interface MobileoneBlockSpec {
  readonly prefix: string;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: 1 | 3;
  readonly stride: number;
  readonly groups: number;
  readonly branches: number;
  readonly se: boolean;
}

/** Every block of a config in order, with the official keys. */
export function mobileoneBlocks(config: MobileoneConfig): MobileoneBlockSpec[] {
  const a = config.widthMultipliers, n = config.numBlocksPerStage;
  let inPlanes = Math.min(64, Math.trunc(64 * a[0]));
  const blocks: MobileoneBlockSpec[] = [{
    prefix: "stage0",
    inChannels: 3,
    outChannels: inPlanes,
    kernel: 3,
    stride: 2,
    groups: 1,
    branches: 1,
    se: false,
  }];
  const seBlocks = config.useSe ? [0, 0, Math.trunc(n[2] / 2), n[3]] : [0, 0, 0, 0];
  [64, 128, 256, 512].forEach((base, s) => {
    const planes = Math.trunc(base * a[s]);
    for (let i = 0; i < n[s]; i++) {
      const common = { branches: config.numConvBranches, se: i >= n[s] - seBlocks[s] };
      blocks.push({
        prefix: `stage${s + 1}.${2 * i}`,
        inChannels: inPlanes,
        outChannels: inPlanes,
        kernel: 3,
        stride: i === 0 ? 2 : 1,
        groups: inPlanes,
        ...common,
      }, {
        prefix: `stage${s + 1}.${2 * i + 1}`,
        inChannels: inPlanes,
        outChannels: planes,
        kernel: 1,
        stride: 1,
        groups: 1,
        ...common,
      });
      inPlanes = planes;
    }
  });
  return blocks;
}

const hasSkip = (block: MobileoneBlockSpec) =>
  block.inChannels === block.outChannels && block.stride === 1;

/** SEBlock: x * sigmoid(expand(relu(reduce(avg_pool(x))))), rd_ratio 0.0625. */
function squeezeExcite(p: Params, x: Node, prefix: string): Node {
  const channels = x.type.shape[1];
  let gate: Node = p.builder.globalAvgpool(x);
  gate = p.builder.relu(conv1x1Bias(p, gate, `${prefix}.reduce`, Math.trunc(channels * 0.0625)));
  gate = p.builder.sigmoid(conv1x1Bias(p, gate, `${prefix}.expand`, channels));
  return p.builder.mul(x, gate);
}

/**
 * One MobileOne block on `x`: the training-time branches, or, when `p.deploy`
 * (`BuildOptions.deploy`), `reparam_conv`.
 */
export function mobileoneBlock(p: Params, x: Node, block: MobileoneBlockSpec): Node {
  const { prefix, outChannels: out, kernel, stride, groups } = block;
  const conv = (k: number) => ({ out, kernel: k, stride, padding: (k - 1) / 2, groups });
  let sum: Node;
  if (p.deploy) sum = convBn(p, x, reparamConvNames(prefix, "reparam_conv"), conv(kernel));
  else {
    // The official order: scale + skip, then every conv branch.
    const terms: Node[] = [];
    const branch = (name: string, k: number) =>
      convBn(p, x, sequentialNames(`${prefix}.${name}`), conv(k));
    if (kernel > 1) terms.push(branch("rbr_scale", 1));
    if (hasSkip(block)) terms.push(p.batchnorm(x, `${prefix}.rbr_skip`));
    for (let i = 0; i < block.branches; i++) terms.push(branch(`rbr_conv.${i}`, kernel));
    sum = terms.reduce((a, b) => p.builder.add(a, b));
  }
  if (block.se) sum = squeezeExcite(p, sum, `${prefix}.se`);
  return p.builder.relu(sum);
}

function checkConfig(config: MobileoneConfig): void {
  const name = "MobileOne";
  requireConfig(
    config.numBlocksPerStage.every((n) => Number.isSafeInteger(n) && n >= 1),
    name,
    `numBlocksPerStage [${config.numBlocksPerStage}] must be integers >= 1`,
  );
  requireConfig(
    config.widthMultipliers.every((a) => Math.trunc(64 * a) >= 1),
    name,
    `widthMultipliers [${config.widthMultipliers}] leave a stage without channels`,
  );
  requireConfig(
    Number.isSafeInteger(config.numConvBranches) && config.numConvBranches >= 1,
    name,
    `numConvBranches ${config.numConvBranches} must be an integer >= 1`,
  );
  requireConfig(
    !config.useSe || Math.trunc(64 * config.widthMultipliers[2] * 4 * 0.0625) >= 1,
    name,
    "squeeze-excite would reduce a stage to no channels",
  );
  requireConfig(
    config.height >= 32 && config.width >= 32,
    name,
    `input ${config.height}x${config.width} must be at least 32x32 (five stride-2 stages)`,
  );
}

/**
 * The MobileOne network of `config`: training-time branches, or with `options.deploy` the
 * converted network (keys of the model `reparameterize_model` returns).
 */
export function buildMobileone(config: MobileoneConfig, options: BuildOptions = {}): Graph {
  checkConfig(config);
  const batch = batchOf(options, "MobileOne");
  const p = new Params("mobileone", { ...options, kernelGain: 1 });
  let x: Node = p.builder.input("x", [batch, 3, config.height, config.width]);
  for (const block of mobileoneBlocks(config)) x = mobileoneBlock(p, x, block);
  const pooled = p.builder.reshape(p.builder.globalAvgpool(x), [batch, x.type.shape[1]]);
  p.builder.output("logits", linear(p, pooled, "linear", config.numClasses));
  return p.builder.build();
}

/** Parameters (with BN running statistics) of the training-time or the converted module. */
export function mobileoneParameters(config: MobileoneConfig, form: "training" | "deploy"): number {
  let total = 0;
  for (const block of mobileoneBlocks(config)) {
    const { inChannels: c, outChannels: o, groups: g, kernel: k } = block;
    const se = block.se ? 2 * Math.trunc(o * 0.0625) * o + Math.trunc(o * 0.0625) + o : 0;
    const conv = (size: number) => (c / g) * o * size * size + bnCount(o);
    const branches = block.branches * conv(k) + (k > 1 ? conv(1) : 0) +
      (hasSkip(block) ? bnCount(c) : 0);
    total += se + (form === "deploy" ? (c / g) * o * k * k + o : branches);
  }
  const last = Math.trunc(512 * config.widthMultipliers[3]);
  return total + last * config.numClasses + config.numClasses;
}
