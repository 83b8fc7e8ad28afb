/**
 * The example models: training-time graphs of RepMLP v1 blocks, the
 * RepMLP-ResNet blocks and networks, RepMLPNet and plain ResNet-50, with
 * seeded non-trivial weights named by the official checkpoint keys.
 *
 * Conventions: every graph has one input "x" (NCHW). A block's output is "y";
 * a classifier's output is "logits" (N, classes). Builders accept
 * `{ batch, seed, weights }`; `weights(name, shape)` may supply real values
 * by checkpoint key (e.g. from a PyTorch state_dict).
 */
import { type Graph, hashString, sizeOf, uniform } from "../ir/mod.ts";
import type { BuildOptions } from "./_weights.ts";
import {
  buildRepmlpBlock,
  type RepmlpBlockConfig,
  repmlpBlockDeployedParameters,
  repmlpBlockTrainingParameters,
} from "./repmlp_block.ts";
import {
  buildRepmlpResnetBlock,
  type RepmlpResnetBlockConfig,
  repmlpResnetBlockDeployedParameters,
  repmlpResnetBlockTrainingParameters,
  type RepmlpResnetBlockType,
} from "./repmlp_resnet_blocks.ts";
import {
  buildRepmlpResnet,
  REPMLP_RES50_BOTTLENECK_224,
  REPMLP_RES50_LIGHT_224,
  REPMLP_RESNET_TINY,
  type RepmlpResnetConfig,
  repmlpResnetDeployedParameters,
  repmlpResnetTrainingParameters,
} from "./repmlp_resnet.ts";
import {
  buildRepmlpNet,
  REPMLPNET_B224,
  REPMLPNET_D256,
  REPMLPNET_L256,
  REPMLPNET_T224,
  REPMLPNET_TINY,
  type RepmlpNetConfig,
  repmlpNetParameters,
} from "./repmlpnet.ts";
import {
  buildResnet,
  RESNET50,
  RESNET_TINY,
  type ResnetConfig,
  resnetDeployedParameters,
  resnetTrainingParameters,
} from "./resnet.ts";

export * from "./_weights.ts";
export * from "./repmlp_block.ts";
export * from "./repmlp_resnet_blocks.ts";
export * from "./repmlp_resnet.ts";
export * from "./repmlpnet_block.ts";
export * from "./repmlpnet.ts";
export * from "./resnet.ts";
export * from "./repvgg.ts";
export * from "./mobileone.ts";

/** Which builder an example uses (and which PyTorch module it mirrors). */
export type ExampleFamily =
  | "repmlp-block"
  | "repmlp-resnet-block"
  | "repmlp-resnet"
  | "repmlpnet"
  | "resnet";

/** One registered example. */
export interface Example {
  readonly description: string;
  readonly family: ExampleFamily;
  /** Small enough for the float64 reference interpreter in unit tests. */
  readonly small: boolean;
  /** The builder's config, for tools that want to rebuild or describe it. */
  readonly config: unknown;
  build(options?: BuildOptions): Graph;
  /** Parameters plus BN running statistics of the PyTorch module (num_batches_tracked aside). */
  trainingParameters(): number;
  /**
   * Parameters of the deployed structure the paper describes: all BNs folded and
   * every RepMLP as plain FCs. For RepMLPNet, as the official conversion leaves it
   * (only the RepMLP blocks converted); `foldedParameters` counts every BN folded.
   */
  deployedParameters(): number;
  /** RepMLPNet only: every BN folded where exact, prebn1 left as a per-channel affine. */
  foldedParameters?(): number;
}

function block(description: string, config: RepmlpBlockConfig): Example {
  return {
    description,
    family: "repmlp-block",
    small: true,
    config,
    build: (options) => buildRepmlpBlock(config, options),
    trainingParameters: () => repmlpBlockTrainingParameters(config),
    deployedParameters: () => repmlpBlockDeployedParameters(config),
  };
}

function resnetBlock(
  description: string,
  type: RepmlpResnetBlockType,
  config: RepmlpResnetBlockConfig,
): Example {
  return {
    description,
    family: "repmlp-resnet-block",
    small: true,
    config: { type, ...config },
    build: (options) => buildRepmlpResnetBlock(type, config, options),
    trainingParameters: () => repmlpResnetBlockTrainingParameters(type, config),
    deployedParameters: () => repmlpResnetBlockDeployedParameters(type, config),
  };
}

function repmlpResnet(description: string, small: boolean, config: RepmlpResnetConfig): Example {
  return {
    description,
    family: "repmlp-resnet",
    small,
    config,
    build: (options) => buildRepmlpResnet(config, options),
    trainingParameters: () => repmlpResnetTrainingParameters(config),
    deployedParameters: () => repmlpResnetDeployedParameters(config),
  };
}

function repmlpNet(description: string, small: boolean, config: RepmlpNetConfig): Example {
  return {
    description,
    family: "repmlpnet",
    small,
    config,
    build: (options) => buildRepmlpNet(config, options),
    trainingParameters: () => repmlpNetParameters(config, "training"),
    deployedParameters: () => repmlpNetParameters(config, "official"),
    foldedParameters: () => repmlpNetParameters(config, "folded"),
  };
}

function resnet(description: string, small: boolean, config: ResnetConfig): Example {
  return {
    description,
    family: "resnet",
    small,
    config,
    build: (options) => buildResnet(config, options),
    trainingParameters: () => resnetTrainingParameters(config),
    deployedParameters: () => resnetDeployedParameters(config),
  };
}

const v1 = { fc1Fc2Reduction: 1 };

/** Every example by name. */
export const EXAMPLES: Readonly<Record<string, Example>> = {
  "repmlp-block": block("RepMLP v1 block with global perceptron, k=(1,3,5), groups 4", {
    C: 8,
    O: 8,
    H: 12,
    W: 12,
    h: 6,
    w: 6,
    reparamConvK: [1, 3, 5],
    fc1Fc2Reduction: 2,
    fc3Groups: 4,
  }),
  "repmlp-block-no-gp": block("RepMLP v1 block, one partition (no global perceptron)", {
    C: 8,
    O: 8,
    H: 6,
    W: 6,
    h: 6,
    w: 6,
    reparamConvK: [1, 3],
    ...v1,
    fc3Groups: 2,
  }),
  "repmlp-block-c-ne-o": block("RepMLP v1 block, C=8 -> O=12, 4x6 partitions, k=(5,1,3)", {
    C: 8,
    O: 12,
    H: 8,
    W: 12,
    h: 4,
    w: 6,
    reparamConvK: [5, 1, 3],
    fc1Fc2Reduction: 2,
    fc3Groups: 4,
  }),
  "repmlp-block-k3": block("RepMLP v1 block, k=(3,), groups = C (depthwise)", {
    C: 8,
    O: 8,
    H: 8,
    W: 8,
    h: 4,
    w: 4,
    reparamConvK: [3],
    ...v1,
    fc3Groups: 8,
  }),
  "repmlp-block-g1": block("RepMLP v1 block, groups 1, k=(1,3,5)", {
    C: 4,
    O: 4,
    H: 8,
    W: 8,
    h: 4,
    w: 4,
    reparamConvK: [1, 3, 5],
    ...v1,
    fc3Groups: 1,
  }),
  "light-block": resnetBlock("RepMLP-ResNet Light block, 16 -> 32 (projection shortcut)", "light", {
    inChannels: 16,
    midChannels: 4,
    outChannels: 32,
    H: 8,
    W: 8,
    h: 4,
    w: 4,
    reparamConvK: [1, 3, 5],
    ...v1,
    fc3Groups: 2,
  }),
  "bottleneck-block": resnetBlock("RepMLP-ResNet Bottleneck block, 32 -> 32, r=2", "bottleneck", {
    inChannels: 32,
    midChannels: 8,
    outChannels: 32,
    r: 2,
    H: 8,
    W: 8,
    h: 4,
    w: 4,
    reparamConvK: [1, 3, 5],
    ...v1,
    fc3Groups: 2,
  }),
  "repmlp-resnet-tiny": repmlpResnet("tiny RepMLP-ResNet, Light blocks, 64x64", true, {
    ...REPMLP_RESNET_TINY,
  }),
  "repmlp-resnet-tiny-bottleneck": repmlpResnet(
    "tiny RepMLP-ResNet, Bottleneck blocks, 64x64",
    true,
    { ...REPMLP_RESNET_TINY, blockType: "bottleneck" },
  ),
  "repmlp-resnet50-light-224": repmlpResnet(
    "RepMLP-Res50-Light-224 (official config)",
    false,
    REPMLP_RES50_LIGHT_224,
  ),
  "repmlp-resnet50-bottleneck-224": repmlpResnet(
    "RepMLP-Res50-Bottleneck-224 (official config)",
    false,
    REPMLP_RES50_BOTTLENECK_224,
  ),
  "repmlpnet-tiny": repmlpNet("tiny RepMLPNet: 2 stages, S=2/4, 4 partitions", true, {
    ...REPMLPNET_TINY,
  }),
  "repmlpnet-t224": repmlpNet("RepMLPNet-T224 (official config)", false, REPMLPNET_T224),
  "repmlpnet-b224": repmlpNet("RepMLPNet-B224 (official config)", false, REPMLPNET_B224),
  "repmlpnet-d256": repmlpNet("RepMLPNet-D256 (official config)", false, REPMLPNET_D256),
  "repmlpnet-l256": repmlpNet("RepMLPNet-L256 (official config)", false, REPMLPNET_L256),
  "resnet-tiny": resnet("tiny ResNet (torchvision layout), 32x32", true, RESNET_TINY),
  "resnet50": resnet("ResNet-50 (torchvision layout and keys), 224x224", false, RESNET50),
};

/** Seeded inputs for a graph: uniform in [-1, 1), the same on every machine. */
export function exampleFeeds(graph: Graph, seed = 0): Record<string, Float32Array> {
  const feeds: Record<string, Float32Array> = {};
  for (const input of graph.inputs) {
    const { name, shape } = input.attrs;
    feeds[name] = uniform(sizeOf(shape), hashString(`${seed}/input/${name}`), -1, 1);
  }
  return feeds;
}
