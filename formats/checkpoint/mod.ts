/**
 * Checkpoints: torch.save archives, safetensors files and sharded safetensors
 * folders, each opened as a flat state_dict whose tensors are read on demand.
 */
export { loadCheckpoint, openCheckpoint } from "./open.ts";
export { SHARD_INDEX } from "./safetensors.ts";
export { stripWrapperPrefixes, WRAPPER_PREFIXES } from "./prefixes.ts";
export { type Checkpoint, type CheckpointTensor, FLOAT_DTYPES } from "./types.ts";
