/**
 * The architecture registry: every network `--arch` and `buildArch` know, by
 * official name. This list is the one place to register an architecture.
 *
 * To add one (as RepVGG and MobileOne were, from examples/repvgg.ts and examples/mobileone.ts):
 * 1. Write a builder `(config, options: BuildOptions) => Graph` in examples/
 *    that names every weight by its official state_dict key through `Params`
 *    (so that a missing key is an error, never a random value), and, if the
 *    family has a converted form, builds it when `options.deploy` is set.
 * 2. Add an entry below: `{ name, description, layouts }`, where `layouts`
 *    lists the key sets its checkpoints come in, training first. For a
 *    training + deploy pair use `trainingAndDeploy(build, skipPasses)` from
 *    ./families.ts; `skipPasses` names the passes that have nothing to do on
 *    the deploy graph (tests/arch/registry_test.ts checks the claim).
 * 3. Add a reduced-size config of the family to the torch checkpoint fixtures
 *    (tests/fixtures/torch/checkpoints/gen_checkpoints.py) so that loading is
 *    checked against PyTorch.
 * Names must be unique case-insensitively; the registry test checks that and
 * that every layout builds.
 */
import {
  MOBILEONE_CONFIGS,
  REPMLP_RES50_BOTTLENECK_224,
  REPMLP_RES50_LIGHT_224,
  REPMLPNET_B224,
  REPMLPNET_B256,
  REPMLPNET_D256,
  REPMLPNET_L256,
  REPMLPNET_T224,
  REPMLPNET_T256,
  REPVGG_CONFIGS,
  RESNET50,
} from "../examples/mod.ts";
import { RefoldError } from "../ir/mod.ts";
import {
  mobileoneArch,
  repmlpNetArch,
  repmlpResnetArch,
  repvggArch,
  resnetArch,
} from "./families.ts";
import type { ArchDefinition } from "./types.ts";

/** "RepVGG (CVPR 2021) A0, 224x224" / "... B1, 4 groups in every other block, ...". */
function repvggDescription(name: string): string {
  const variant = name.slice("RepVGG-".length);
  const groups = variant.match(/g(\d)$/);
  const grouped = groups ? `, ${groups[1]} groups in the official groupwise layers` : "";
  return `RepVGG (CVPR 2021) ${variant.replace(/g\d$/, "")}${grouped}, 224x224`;
}

/** "MobileOne (CVPR 2023) S0, 224x224". */
function mobileoneDescription(name: string): string {
  const variant = name.slice("MobileOne-".length);
  const se = variant === "S4" ? " with squeeze-excite" : "";
  return `MobileOne (CVPR 2023) ${variant}${se}, 224x224`;
}

/** Every registered architecture, in the order `--arch list` prints them. */
export const ARCHITECTURES: readonly ArchDefinition[] = [
  repmlpNetArch("RepMLPNet-T224", "RepMLPNet (CVPR 2022), tiny, 224x224", REPMLPNET_T224),
  repmlpNetArch("RepMLPNet-B224", "RepMLPNet, base, 224x224", REPMLPNET_B224),
  repmlpNetArch("RepMLPNet-T256", "RepMLPNet, tiny, 256x256", REPMLPNET_T256),
  repmlpNetArch("RepMLPNet-B256", "RepMLPNet, base, 256x256", REPMLPNET_B256),
  repmlpNetArch("RepMLPNet-D256", "RepMLPNet, deep, 256x256", REPMLPNET_D256),
  repmlpNetArch("RepMLPNet-L256", "RepMLPNet, large, 256x256", REPMLPNET_L256),
  repmlpResnetArch(
    "RepMLP-Res50-Light-224",
    "ResNet-50 with RepMLP Light blocks (arXiv 2105.01883), 224x224",
    REPMLP_RES50_LIGHT_224,
  ),
  repmlpResnetArch(
    "RepMLP-Res50-Bottleneck-224",
    "ResNet-50 with RepMLP Bottleneck blocks, 224x224",
    REPMLP_RES50_BOTTLENECK_224,
  ),
  resnetArch(
    "Res50-224",
    "ResNet-50, 224x224: the RepMLP repository's base network or torchvision's resnet50",
    { ...REPMLP_RES50_LIGHT_224, blockType: "base" },
    RESNET50,
  ),
  ...Object.entries(REPVGG_CONFIGS).map(([name, config]) =>
    repvggArch(name, repvggDescription(name), config)
  ),
  ...Object.entries(MOBILEONE_CONFIGS).map(([name, config]) =>
    mobileoneArch(name, mobileoneDescription(name), config)
  ),
];

/** The registered architecture called `name` (any case); throws listing the names otherwise. */
export function findArch(
  name: string,
  registry: readonly ArchDefinition[] = ARCHITECTURES,
): ArchDefinition {
  const wanted = name.toLowerCase();
  const found = registry.find((arch) => arch.name.toLowerCase() === wanted);
  if (found) return found;
  throw new RefoldError(
    `unknown architecture "${name}"; the architectures are ` +
      `${registry.map((arch) => arch.name).join(", ")} (see --arch list)`,
  );
}
