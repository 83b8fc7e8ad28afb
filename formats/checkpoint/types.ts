/**
 * A checkpoint as refold sees it, whatever its file format: a flat
 * state_dict (name -> dtype and shape) whose values are read on demand.
 * Opening one reads only the index (zip directory and pickle, or safetensors
 * headers); `read` fetches the named tensors, each storage once.
 */

/** The float dtypes whose values refold reads (as float32). */
export const FLOAT_DTYPES: readonly string[] = ["f32", "f16", "bf16", "f64"];

/** One tensor of a checkpoint, before its values are read. */
export interface CheckpointTensor {
  /** safetensors' dtype names in lower case: "f32", "f16", "bf16", "f64", "i64", "bool", ... */
  readonly dtype: string;
  readonly shape: readonly number[];
}

/** An opened checkpoint. */
export interface Checkpoint {
  /** The file or folder, as named in error messages. */
  readonly file: string;
  /** What was read, e.g. "torch.save zip archive" or "safetensors, 3 shards". */
  readonly format: string;
  /**
   * Where the state_dict was found and which key prefixes were removed, e.g.
   * `the "model" entry of a dict (epoch, model, optimizer); keys prefixed "module." (DDP)`.
   */
  readonly wrapper: string;
  /** Every tensor of the state_dict, by key (prefixes removed), in file order. */
  readonly tensors: ReadonlyMap<string, CheckpointTensor>;
  /**
   * The values of `names` as float32, reading each storage at most once.
   * Throws a RefoldError for an unknown name or a non-float dtype.
   */
  read(names: Iterable<string>): Promise<Map<string, Float32Array>>;
  /** Releases the files; reads fail afterwards. */
  close(): void;
}
