/**
 * safetensors: an 8-byte little-endian header length N, N bytes of JSON
 * header (`name -> {dtype, shape, data_offsets}` plus an optional
 * `__metadata__` string map), then the raw little-endian tensor bytes.
 *
 * The reader validates the whole header before it allocates anything for
 * data, then reads each tensor on demand straight into its own buffer, so a
 * 300 MB checkpoint is copied once and unreferenced tensors are never read.
 * F32, F16, BF16 and F64 tensors are read (as Float32Array); integer and
 * other tensors (a PyTorch state_dict's I64 `num_batches_tracked`) are
 * listed but refused only when someone asks for their values. The writer
 * writes F32.
 */
export { MAX_HEADER_BYTES, READABLE_DTYPES, type TensorInfo } from "./safetensors/header.ts";
export {
  openSafetensors,
  parseSafetensors,
  readSafetensors,
  type SafetensorsReader,
} from "./safetensors/read.ts";
export {
  encodeSafetensors,
  type NamedTensor,
  type WriteOptions,
  writeSafetensors,
  writeSafetensorsTo,
} from "./safetensors/write.ts";
