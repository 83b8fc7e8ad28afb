/**
 * The RepMLP block, first version (arXiv 2105.01883), in its training-time
 * form, computed exactly as the official `RepMLP.forward` does: the same
 * reshapes, permutes, grouped 1x1 conv for fc3 and BatchNorm1d after it, so
 * that passes have to recognize the structure from the graph alone.
 *
 * Checkpoint keys (under the block's prefix): `fc1_fc2.fc1.*`, `fc1_fc2.fc2.*`,
 * `avg.bn.*` (only with a global perceptron), `fc3.weight`, `fc3_bn.*`,
 * `repconv{k}.conv.weight`, `repconv{k}.bn.*`.
 *
 * C != O is supported: the training-time graph is well defined (the official
 * conversion is not right for it, refold's must be).
 */
import type { Graph, Node } from "../ir/mod.ts";
import { bnCount, linear } from "./_layers.ts";
import { batchOf, type BuildOptions, Params, requireConfig } from "./_weights.ts";

/** Arguments of the official `RepMLP(in_channels, out_channels, H, W, h, w, ...)`. */
export interface RepmlpBlockConfig {
  /** Input channels. */
  readonly C: number;
  /** Output channels. */
  readonly O: number;
  /** Input height and width. */
  readonly H: number;
  readonly W: number;
  /** Partition height and width; H % h == 0 and W % w == 0. */
  readonly h: number;
  readonly w: number;
  /** Kernel sizes of the local perceptron's conv branches, in branch order (odd, distinct). */
  readonly reparamConvK: readonly number[];
  /** fc1 of the global perceptron has C*hp*wp / r outputs (floored, as the official code does). */
  readonly fc1Fc2Reduction: number;
  /** Groups of fc3 and of every conv branch. */
  readonly fc3Groups: number;
}

const isCount = (value: number) => Number.isSafeInteger(value) && value >= 1;

/** Throws a one-line error when the official module could not be built with `config`. */
export function checkRepmlpBlockConfig(config: RepmlpBlockConfig, model = "repmlp block"): void {
  const { C, O, H, W, h, w, reparamConvK: ks, fc1Fc2Reduction: r, fc3Groups: g } = config;
  for (const [key, value] of Object.entries({ C, O, H, W, h, w, r, g })) {
    requireConfig(isCount(value), model, `${key}=${value} must be an integer >= 1`);
  }
  requireConfig(H % h === 0 && W % w === 0, model, `${H}x${W} is not divisible into ${h}x${w}`);
  requireConfig(C % g === 0 && O % g === 0, model, `channels ${C} -> ${O} not divisible by ${g}`);
  for (const k of ks) {
    requireConfig(isCount(k) && k % 2 === 1, model, `reparam_conv_k ${k} must be odd and >= 1`);
  }
  requireConfig(new Set(ks).size === ks.length, model, `reparam_conv_k [${ks}] repeats a size`);
  if (hasGlobalPerceptron(config)) {
    const internal = Math.floor((C * (H / h) * (W / w)) / r);
    requireConfig(internal >= 1, model, `fc1_fc2_reduction ${r} leaves fc1 without outputs`);
  }
}

/** The official rule: a global perceptron exists iff the input is more than one partition. */
export function hasGlobalPerceptron(config: RepmlpBlockConfig): boolean {
  return config.H !== config.h || config.W !== config.w;
}

const key = (prefix: string, name: string) => (prefix ? `${prefix}.${name}` : name);

/** Appends the block to `p`'s graph: x (N, C, H, W) -> (N, O, H, W). Names start with `prefix`. */
export function repmlpBlock(
  p: Params,
  x: Node,
  prefix: string,
  config: RepmlpBlockConfig,
): Node {
  checkRepmlpBlockConfig(config, prefix || "repmlp block");
  const { C, O, H, W, h, w, fc3Groups: g } = config;
  const b = p.builder;
  const hp = H / h, wp = W / w;
  let inputs: Node;
  if (hasGlobalPerceptron(config)) {
    // Deploy form: the official conversion folds avg.bn into fc1.
    const avg = b.avgpool(x, [h, w]);
    const pooled = p.deploy ? avg : p.batchnorm(avg, key(prefix, "avg.bn"));
    let v: Node = b.reshape(pooled, [-1, C * hp * wp]);
    const internal = Math.floor((C * hp * wp) / config.fc1Fc2Reduction);
    v = b.relu(linear(p, v, key(prefix, "fc1_fc2.fc1"), internal));
    v = linear(p, v, key(prefix, "fc1_fc2.fc2"), C * hp * wp);
    v = b.reshape(v, [-1, C, hp, 1, wp, 1]);
    inputs = b.add(b.reshape(x, [-1, C, hp, h, wp, w]), v);
  } else {
    inputs = b.reshape(x, [-1, C, hp, h, wp, w]);
  }
  const partitions = b.transpose(inputs, [0, 2, 4, 1, 3, 5]); // N, hp, wp, C, h, w

  const fc3Kernel = p.kernel(key(prefix, "fc3.weight"), [O * h * w, (C * h * w) / g, 1, 1]);
  // Deploy form: fc3 has a bias, and neither fc3_bn nor the conv branches exist.
  const fc3Bias = p.deploy
    ? p.bias(key(prefix, "fc3.bias"), O * h * w, (C * h * w) / g)
    : undefined;
  let fc3Out: Node = b.conv2d(b.reshape(partitions, [-1, C * h * w, 1, 1]), fc3Kernel, fc3Bias, {
    groups: g,
  });
  fc3Out = b.reshape(fc3Out, [-1, O * h * w]);
  if (!p.deploy) fc3Out = p.batchnorm(fc3Out, key(prefix, "fc3_bn"));
  fc3Out = b.reshape(fc3Out, [-1, hp, wp, O, h, w]);

  if (config.reparamConvK.length > 0 && !p.deploy) {
    const convInputs = b.reshape(partitions, [-1, C, h, w]);
    let convOut: Node | undefined;
    for (const k of config.reparamConvK) {
      const branch = `repconv${k}`;
      const kernel = p.kernel(key(prefix, `${branch}.conv.weight`), [O, C / g, k, k]);
      const conv = b.conv2d(convInputs, kernel, undefined, { padding: k >> 1, groups: g });
      const out = p.batchnorm(conv, key(prefix, `${branch}.bn`));
      convOut = convOut ? b.add(convOut, out) : out;
    }
    fc3Out = b.add(fc3Out, b.reshape(convOut!, [-1, hp, wp, O, h, w]));
  }
  const unpartitioned = b.transpose(fc3Out, [0, 3, 1, 4, 2, 5]); // N, O, hp, h, wp, w
  return b.reshape(unpartitioned, [-1, O, H, W]);
}

/**
 * The training-time graph of one block (with `deploy`, the official converted
 * block): input "x" (N, C, H, W), output "y" (N, O, H, W).
 */
export function buildRepmlpBlock(config: RepmlpBlockConfig, options: BuildOptions = {}): Graph {
  checkRepmlpBlockConfig(config);
  const p = new Params("repmlp_block", options);
  const x = p.builder.input("x", [batchOf(options, "repmlp block"), config.C, config.H, config.W]);
  p.builder.output("y", repmlpBlock(p, x, "", config));
  return p.builder.build();
}

function globalPerceptronSizes(config: RepmlpBlockConfig): { features: number; internal: number } {
  const features = config.C * (config.H / config.h) * (config.W / config.w);
  return { features, internal: Math.floor(features / config.fc1Fc2Reduction) };
}

/** Parameters and BN running statistics of the official training-time module. */
export function repmlpBlockTrainingParameters(config: RepmlpBlockConfig): number {
  const { C, O, h, w, fc3Groups: g } = config;
  let count = (O * h * w * C * h * w) / g + bnCount(O * h * w);
  for (const k of config.reparamConvK) count += O * (C / g) * k * k + bnCount(O);
  if (hasGlobalPerceptron(config)) {
    const { features, internal } = globalPerceptronSizes(config);
    count += 2 * features * internal + internal + features + bnCount(C);
  }
  return count;
}

/**
 * Parameters of the deployed block ("three FC layers"): fc1 with the pooled
 * BN folded in, fc2, and fc3 with every BN and conv branch merged in, plus
 * its bias of O*h*w.
 */
export function repmlpBlockDeployedParameters(config: RepmlpBlockConfig): number {
  const { C, O, h, w, fc3Groups: g } = config;
  let count = (O * h * w * C * h * w) / g + O * h * w;
  if (hasGlobalPerceptron(config)) {
    const { features, internal } = globalPerceptronSizes(config);
    count += 2 * features * internal + internal + features;
  }
  return count;
}
