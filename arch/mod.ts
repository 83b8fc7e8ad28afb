/**
 * Architectures by official name: the registry (./registry.ts, the one place
 * to add one), strict state_dict matching, and buildArch, which makes an
 * architecture's training-time graph from a checkpoint.
 */
export { ARCHITECTURES, findArch } from "./registry.ts";
export { type ArchBuild, buildArch, type BuildArchOptions, matchLayout } from "./build.ts";
export { expectedTensors, parameterCount } from "./expected.ts";
export { formatArchList } from "./list.ts";
export {
  mobileoneArch,
  repmlpNetArch,
  repmlpResnetArch,
  repvggArch,
  resnetArch,
  trainingAndDeploy,
} from "./families.ts";
export {
  compareStateDict,
  describeMismatch,
  fits,
  isIgnoredKey,
  type StateDictMismatch,
} from "./strict.ts";
export type { ArchDefinition, ArchLayout } from "./types.ts";
