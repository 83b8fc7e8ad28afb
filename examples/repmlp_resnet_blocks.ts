/**
 * The two RepMLP-ResNet blocks of the official `repmlp_blocks.py`, in their
 * training-time form and with its keys:
 * - Light: light_conv1 (1x1 conv+BN+ReLU, in -> mid), light_repmlp (RepMLP on
 *   mid channels), ReLU, light_conv3 (1x1 conv+BN, mid -> out), plus shortcut,
 *   then ReLU.
 * - Bottleneck: btnk_conv1 (1x1, in -> mid), btnk_conv2 (3x3, mid -> mid/r),
 *   btnk_repmlp, ReLU, btnk_conv4 (3x3, -> mid), btnk_conv5 (1x1 conv+BN, ->
 *   out), plus shortcut, then ReLU.
 * The shortcut is the identity when in == out, else `shortcut` (1x1 conv+BN).
 */
import type { Graph, Node } from "../ir/mod.ts";
import { convBn, convBnModuleNames, convBnRelu } from "./_layers.ts";
import { batchOf, type BuildOptions, Params, requireConfig } from "./_weights.ts";
import {
  repmlpBlock,
  type RepmlpBlockConfig,
  repmlpBlockDeployedParameters,
  repmlpBlockTrainingParameters,
} from "./repmlp_block.ts";
import { convBnCount } from "./resnet.ts";

/** The RepMLP arguments a block passes through, plus its own widths. */
export interface RepmlpResnetBlockConfig {
  readonly inChannels: number;
  readonly midChannels: number;
  readonly outChannels: number;
  /** Bottleneck only: the RepMLP runs on mid/r channels. Ignored by the Light block. */
  readonly r?: number;
  readonly H: number;
  readonly W: number;
  readonly h: number;
  readonly w: number;
  readonly reparamConvK: readonly number[];
  readonly fc1Fc2Reduction: number;
  readonly fc3Groups: number;
}

/** Which block: the official class names, lower-cased. */
export type RepmlpResnetBlockType = "light" | "bottleneck";

const join = (prefix: string, name: string) => (prefix ? `${prefix}.${name}` : name);

/** The channels the block's RepMLP runs on. */
export function repmlpChannels(type: RepmlpResnetBlockType, config: RepmlpResnetBlockConfig) {
  if (type === "light") return config.midChannels;
  const r = config.r ?? 1;
  requireConfig(
    Number.isSafeInteger(r) && r >= 1 && config.midChannels % r === 0,
    "bottleneck block",
    `mid channels ${config.midChannels} not divisible by r=${r}`,
  );
  return config.midChannels / r;
}

function innerConfig(type: RepmlpResnetBlockType, config: RepmlpResnetBlockConfig) {
  const channels = repmlpChannels(type, config);
  const { H, W, h, w, reparamConvK, fc1Fc2Reduction, fc3Groups } = config;
  const inner: RepmlpBlockConfig = {
    C: channels,
    O: channels,
    H,
    W,
    h,
    w,
    reparamConvK,
    fc1Fc2Reduction,
    fc3Groups,
  };
  return inner;
}

/** Appends a Light or Bottleneck block to `p`'s graph; x is (N, in, H, W). */
export function repmlpResnetBlock(
  p: Params,
  x: Node,
  prefix: string,
  type: RepmlpResnetBlockType,
  config: RepmlpResnetBlockConfig,
): Node {
  const b = p.builder;
  const names = (name: string) => convBnModuleNames(p, join(prefix, name));
  const { midChannels: mid, outChannels: out } = config;
  const inner = innerConfig(type, config);
  let y: Node;
  if (type === "light") {
    y = convBnRelu(p, x, names("light_conv1"), { out: mid, kernel: 1 });
    y = b.relu(repmlpBlock(p, y, join(prefix, "light_repmlp"), inner));
    y = convBn(p, y, names("light_conv3"), { out, kernel: 1 });
  } else {
    y = convBnRelu(p, x, names("btnk_conv1"), { out: mid, kernel: 1 });
    y = convBnRelu(p, y, names("btnk_conv2"), { out: inner.C, kernel: 3, padding: 1 });
    y = b.relu(repmlpBlock(p, y, join(prefix, "btnk_repmlp"), inner));
    y = convBnRelu(p, y, names("btnk_conv4"), { out: mid, kernel: 3, padding: 1 });
    y = convBn(p, y, names("btnk_conv5"), { out, kernel: 1 });
  }
  const shortcut = config.inChannels !== out
    ? convBn(p, x, names("shortcut"), { out, kernel: 1 })
    : x;
  return b.relu(b.add(y, shortcut));
}

/** One block as a graph: input "x" (N, in, H, W), output "y" (N, out, H, W). */
export function buildRepmlpResnetBlock(
  type: RepmlpResnetBlockType,
  config: RepmlpResnetBlockConfig,
  options: BuildOptions = {},
): Graph {
  const p = new Params(`repmlp_${type}_block`, options);
  const batch = batchOf(options, `${type} block`);
  const x = p.builder.input("x", [batch, config.inChannels, config.H, config.W]);
  p.builder.output("y", repmlpResnetBlock(p, x, "", type, config));
  return p.builder.build();
}

function blockConvs(type: RepmlpResnetBlockType, config: RepmlpResnetBlockConfig) {
  const { inChannels: cin, midChannels: mid, outChannels: out } = config;
  const c = repmlpChannels(type, config);
  const convs: [number, number, number][] = type === "light"
    ? [[cin, mid, 1], [mid, out, 1]]
    : [[cin, mid, 1], [mid, c, 3], [c, mid, 3], [mid, out, 1]];
  if (cin !== out) convs.push([cin, out, 1]);
  return convs;
}

/** Parameters and BN statistics of the official training-time block. */
export function repmlpResnetBlockTrainingParameters(
  type: RepmlpResnetBlockType,
  config: RepmlpResnetBlockConfig,
): number {
  return convBnCount(blockConvs(type, config), "training") +
    repmlpBlockTrainingParameters(innerConfig(type, config));
}

/** Parameters of the deployed block: convs with BN folded, RepMLP as three FCs. */
export function repmlpResnetBlockDeployedParameters(
  type: RepmlpResnetBlockType,
  config: RepmlpResnetBlockConfig,
): number {
  return convBnCount(blockConvs(type, config), "deployed") +
    repmlpBlockDeployedParameters(innerConfig(type, config));
}
