/**
 * Architecture definitions for the families refold's builders know, made
 * from a config: RepMLPNet, RepMLP-ResNet (Light, Bottleneck, and the plain
 * `base` ResNet-50 under the official RepMLP keys), torchvision's ResNet,
 * RepVGG and MobileOne.
 * Tests build reduced configs through the same functions, so the registry's
 * code paths are the tested ones.
 */
import {
  buildMobileone,
  type BuildOptions,
  buildRepmlpNet,
  buildRepmlpResnet,
  buildRepvgg,
  buildResnet,
  type MobileoneConfig,
  type RepmlpNetConfig,
  type RepmlpResnetConfig,
  type RepvggConfig,
  type ResnetConfig,
} from "../examples/mod.ts";
import type { Graph } from "../ir/mod.ts";
import type { ArchDefinition, ArchLayout } from "./types.ts";

/** The passes that merge conv branches: a converted checkpoint has none left. */
const BRANCH_PASSES = ["merge-parallel-convs", "conv-into-fc"];
/** The BatchNorm passes: the official v1 conversion folds every BN away. */
const BATCHNORM_PASSES = ["fold-batchnorm", "lower-batchnorm"];
/** DBB-style 1x1 -> kxk chains and parallel FCs: a converted conv network has none. */
const CHAIN_PASSES = ["compose-convs", "group-fc"];

/**
 * A training layout and a deploy layout (`deploy: true`) of one builder; the
 * deploy layout skips `skipPasses`.
 */
export function trainingAndDeploy(
  build: (options: BuildOptions) => Graph,
  skipPasses: readonly string[],
): ArchLayout[] {
  return [
    { name: "training", build },
    { name: "deploy", build: (options) => build({ ...options, deploy: true }), skipPasses },
  ];
}

/** RepMLPNet: the official deploy form converts only the RepMLP blocks (BNs elsewhere stay). */
export function repmlpNetArch(
  name: string,
  description: string,
  config: RepmlpNetConfig,
): ArchDefinition {
  return {
    name,
    description,
    layouts: trainingAndDeploy((options) => buildRepmlpNet(config, options), BRANCH_PASSES),
  };
}

/** RepMLP-ResNet (any block type): the official deploy form has no BN and no branch left. */
export function repmlpResnetArch(
  name: string,
  description: string,
  config: RepmlpResnetConfig,
): ArchDefinition {
  return {
    name,
    description,
    layouts: trainingAndDeploy(
      (options) => buildRepmlpResnet(config, options),
      [...BRANCH_PASSES, ...BATCHNORM_PASSES],
    ),
  };
}

/**
 * ResNet-50 under two key sets: the official RepMLP repository's `base`
 * network (training and deploy) and torchvision's `resnet50()`.
 */
export function resnetArch(
  name: string,
  description: string,
  repmlpBase: RepmlpResnetConfig,
  torchvision: ResnetConfig,
): ArchDefinition {
  return {
    name,
    description,
    layouts: [
      ...repmlpResnetArch(name, description, repmlpBase).layouts,
      { name: "torchvision", build: (options) => buildResnet(torchvision, options) },
    ],
  };
}

/**
 * RepVGG (any `func_dict` config, or a custom one): the official conversion
 * (`repvgg_model_convert`) leaves one conv with bias per block, so nothing
 * but canonicalize has work on the deploy form.
 */
export function repvggArch(
  name: string,
  description: string,
  config: RepvggConfig,
): ArchDefinition {
  return {
    name,
    description,
    layouts: trainingAndDeploy(
      (options) => buildRepvgg(config, options),
      [...BRANCH_PASSES, ...BATCHNORM_PASSES, ...CHAIN_PASSES],
    ),
  };
}

/**
 * MobileOne (any `PARAMS` variant, or a custom config): `reparameterize_model`
 * leaves one conv with bias per block (plus S4's squeeze-excite FCs), so
 * nothing but canonicalize has work on the deploy form.
 */
export function mobileoneArch(
  name: string,
  description: string,
  config: MobileoneConfig,
): ArchDefinition {
  return {
    name,
    description,
    layouts: trainingAndDeploy(
      (options) => buildMobileone(config, options),
      [...BRANCH_PASSES, ...BATCHNORM_PASSES, ...CHAIN_PASSES],
    ),
  };
}
