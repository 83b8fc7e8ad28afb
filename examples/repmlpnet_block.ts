/**
 * RepMLPNet's RepMLPBlock and RepMLPNetUnit (official `repmlpnet.py`), in
 * their training-time form, computed exactly as the official forward does.
 *
 * Quirk kept on purpose: `partition_affine` writes fc3's rows in the order
 * (N, hp, wp, C/S) but reads them back as (N*C/S, hp, wp). With more than one
 * partition and C > S, channels land in other (partition, channel-group)
 * places than the paper describes. Trained checkpoints follow the official
 * code, so the graph does too.
 *
 * Keys under `stages.{i}.{j}`: `prebn1.*`, `prebn2.*`,
 * `repmlp_block.gp.fc{1,2}.{weight,bias}`, `repmlp_block.fc3.weight`,
 * `repmlp_block.fc3_bn.*`, `repmlp_block.repconv{k}.{conv.weight,bn.*}`,
 * `ffn_block.ffn_fc{1,2}.{conv.weight,bn.*}`.
 */
import type { Node } from "../ir/mod.ts";
import { conv1x1Bias, convBn, sequentialNames } from "./_layers.ts";
import { type Params, requireConfig } from "./_weights.ts";

/** Arguments of the official `RepMLPNetUnit` (in == out channels, as the official code asserts). */
export interface RepmlpNetUnitConfig {
  /** Channels C. */
  readonly channels: number;
  /** Partition height and width. */
  readonly h: number;
  readonly w: number;
  /** Conv branch kernel sizes, in branch order (odd, distinct). */
  readonly reparamConvK: readonly number[];
  /** The global perceptron's fc1 has C / reduce outputs (floored). */
  readonly globalperceptronReduce: number;
  /** Share-sets S: C % S == 0; channel c uses share-set c mod S. */
  readonly numSharesets: number;
  /** FFN hidden width is ffnExpand * C (official 4). */
  readonly ffnExpand: number;
}

/** Throws a one-line error when the unit cannot run on an (H, W) input. */
export function checkUnitConfig(
  config: RepmlpNetUnitConfig,
  H: number,
  W: number,
  model: string,
): void {
  const { channels: C, h, w, numSharesets: S, globalperceptronReduce: red } = config;
  const counts = { C, h, w, S, globalperceptron_reduce: red, ffn_expand: config.ffnExpand };
  for (const [name, value] of Object.entries(counts)) {
    requireConfig(
      Number.isSafeInteger(value) && value >= 1,
      model,
      `${name}=${value} must be >= 1`,
    );
  }
  requireConfig(H % h === 0 && W % w === 0, model, `${H}x${W} is not divisible into ${h}x${w}`);
  requireConfig(C % S === 0, model, `${C} channels are not divisible into ${S} share-sets`);
  requireConfig(
    Math.floor(C / red) >= 1,
    model,
    `globalperceptron_reduce ${red} leaves no neurons`,
  );
  const ks = config.reparamConvK;
  for (const k of ks) {
    requireConfig(Number.isSafeInteger(k) && k % 2 === 1, model, `kernel ${k} must be odd, >= 1`);
  }
  requireConfig(new Set(ks).size === ks.length, model, `reparam_conv_k [${ks}] repeats a size`);
}

/** The official RepMLPBlock on x (N, C, H, W), names under `prefix` (e.g. `stages.0.1.repmlp_block`). */
export function repmlpNetBlock(
  p: Params,
  x: Node,
  prefix: string,
  config: RepmlpNetUnitConfig,
): Node {
  const b = p.builder;
  const [, C, H, W] = x.type.shape;
  const { h, w, numSharesets: S } = config;
  checkUnitConfig(config, H, W, prefix);
  const hp = H / h, wp = W / w;

  // Global perceptron: avg pool, 1x1 conv fc1, ReLU, fc2, sigmoid, view(-1, C, 1, 1).
  let gv: Node = b.globalAvgpool(x);
  gv = b.relu(
    conv1x1Bias(p, gv, `${prefix}.gp.fc1`, Math.floor(C / config.globalperceptronReduce)),
  );
  gv = b.sigmoid(conv1x1Bias(p, gv, `${prefix}.gp.fc2`, C));
  const globalVec = b.reshape(gv, [-1, C, 1, 1]);

  const partitions = b.transpose(b.reshape(x, [-1, C, hp, h, wp, w]), [0, 2, 4, 1, 3, 5]);

  // partition_affine: fc3 as a grouped 1x1 conv, BN over S channels.
  const fc3Kernel = p.kernel(`${prefix}.fc3.weight`, [S * h * w, h * w, 1, 1]);
  // Deploy form (official `local_inject`): fc3 has a bias, fc3_bn and the branches are gone.
  const fc3Bias = p.deploy ? p.bias(`${prefix}.fc3.bias`, S * h * w, h * w) : undefined;
  let fc3Out: Node = b.conv2d(b.reshape(partitions, [-1, S * h * w, 1, 1]), fc3Kernel, fc3Bias, {
    groups: S,
  });
  fc3Out = b.reshape(fc3Out, [-1, S, h, w]);
  if (!p.deploy) fc3Out = p.batchnorm(fc3Out, `${prefix}.fc3_bn`);
  fc3Out = b.reshape(fc3Out, [-1, hp, wp, S, h, w]);

  if (config.reparamConvK.length > 0 && !p.deploy) {
    const convInputs = b.reshape(partitions, [-1, S, h, w]);
    let convOut: Node | undefined;
    for (const k of config.reparamConvK) {
      const names = sequentialNames(`${prefix}.repconv${k}`);
      const out = convBn(p, convInputs, names, { out: S, kernel: k, padding: k >> 1, groups: S });
      convOut = convOut ? b.add(convOut, out) : out;
    }
    fc3Out = b.add(fc3Out, b.reshape(convOut!, [-1, hp, wp, S, h, w]));
  }
  // The official code reshapes to inputs.size(), which bakes in the batch size.
  const out = b.reshape(b.transpose(fc3Out, [0, 3, 1, 4, 2, 5]), x.type.shape);
  return b.mul(out, globalVec);
}

/** RepMLPNetUnit: y = x + block(prebn1(x)); z = y + ffn(prebn2(y)). */
export function repmlpNetUnit(
  p: Params,
  x: Node,
  prefix: string,
  config: RepmlpNetUnitConfig,
): Node {
  const b = p.builder;
  const C = x.type.shape[1];
  requireConfig(C === config.channels, prefix, `input has ${C} channels, unit ${config.channels}`);
  const y = b.add(
    x,
    repmlpNetBlock(p, p.batchnorm(x, `${prefix}.prebn1`), `${prefix}.repmlp_block`, config),
  );
  const ffn = `${prefix}.ffn_block`;
  let f = convBn(p, p.batchnorm(y, `${prefix}.prebn2`), sequentialNames(`${ffn}.ffn_fc1`), {
    out: C * config.ffnExpand,
    kernel: 1,
  });
  f = convBn(p, b.gelu(f), sequentialNames(`${ffn}.ffn_fc2`), { out: C, kernel: 1 });
  return b.add(y, f);
}

/** Parameter counts of one unit in the three forms that refold meets. */
export function unitParameters(
  config: RepmlpNetUnitConfig,
): { training: number; official: number; folded: number } {
  const { channels: C, h, w, numSharesets: S } = config;
  const hidden = C * config.ffnExpand;
  const internal = Math.floor(C / config.globalperceptronReduce);
  const gp = C * internal + internal + internal * C + C;
  const fc3 = S * h * w * h * w;
  let branches = 4 * S; // fc3_bn
  for (const k of config.reparamConvK) branches += S * k * k + 4 * S;
  const ffnWeights = 2 * C * hidden;
  const training = 8 * C + gp + fc3 + branches + ffnWeights + 4 * hidden + 4 * C;
  // Official locality injection: only the RepMLP block changes (fc3 gains a bias of S*h*w).
  const official = 8 * C + gp + fc3 + S * h * w + ffnWeights + 4 * hidden + 4 * C;
  // Everything folded: prebn1 stays a per-channel affine (2C): its output feeds an FC shared
  // by C/S channels and its input feeds the residual sum, so neither side can absorb it.
  // prebn2 folds into ffn_fc1 (a 1x1 conv), the FFN BNs become biases.
  const folded = 2 * C + gp + fc3 + S * h * w + ffnWeights + hidden + C;
  return { training, official, folded };
}
