/**
 * A tensor's float32 values from its storage record's bytes. A contiguous
 * f32 tensor in the machine's byte order is a view of the record (no copy);
 * anything else costs exactly one new array: the byte swap, the strided
 * gather or the widening from f16 / bf16 / f64, whichever comes first.
 */
import { RefoldError } from "../../ir/mod.ts";
import { bfloat16ToFloat32, halfToFloat32, LITTLE_ENDIAN, swapBytes } from "../dtypes.ts";
import { DTYPE_BYTES, type TorchTensor } from "./values.ts";

type Elements = Float32Array | Float64Array | Uint16Array;

/** The record's elements as a typed array, copying only when alignment or byte order asks. */
function elementsOf(record: Uint8Array, dtype: string, littleEndianFile: boolean): Elements {
  const width = DTYPE_BYTES[dtype as keyof typeof DTYPE_BYTES];
  let bytes = record;
  if (littleEndianFile !== LITTLE_ENDIAN) {
    bytes = record.slice();
    swapBytes(bytes, width);
  } else if (bytes.byteOffset % width !== 0) {
    bytes = record.slice();
  }
  const count = bytes.byteLength / width;
  if (dtype === "f32") return new Float32Array(bytes.buffer, bytes.byteOffset, count);
  if (dtype === "f64") return new Float64Array(bytes.buffer, bytes.byteOffset, count);
  return new Uint16Array(bytes.buffer, bytes.byteOffset, count);
}

/** Row-major copy of a strided view; the innermost axis runs in the inner loop. */
function gather<T extends Elements>(source: T, tensor: TorchTensor): T {
  const { shape, stride, offset } = tensor;
  const count = shape.reduce((a, d) => a * d, 1);
  const out = new (source.constructor as new (length: number) => T)(count);
  if (count === 0) return out;
  if (shape.length === 0) {
    out[0] = source[offset];
    return out;
  }
  const rank = shape.length;
  const inner = shape[rank - 1], innerStride = stride[rank - 1];
  const index = new Array<number>(rank - 1).fill(0);
  let base = offset;
  for (let at = 0; at < count; at += inner) {
    for (let j = 0; j < inner; j++) out[at + j] = source[base + j * innerStride];
    for (let axis = rank - 2; axis >= 0; axis--) {
      base += stride[axis];
      if (++index[axis] < shape[axis]) break;
      base -= stride[axis] * shape[axis];
      index[axis] = 0;
    }
  }
  return out;
}

/** The float32 values of `tensor`, whose storage record holds `record`. */
export function tensorValues(
  record: Uint8Array,
  tensor: TorchTensor,
  littleEndianFile: boolean,
): Float32Array {
  const { dtype } = tensor.storage;
  if (dtype !== "f32" && dtype !== "f64" && dtype !== "f16" && dtype !== "bf16") {
    throw new RefoldError(`dtype ${dtype} is not a float; refold reads f32, f16, bf16 and f64`);
  }
  const elements = elementsOf(record, dtype, littleEndianFile);
  const count = tensor.shape.reduce((a, d) => a * d, 1);
  const picked = tensor.contiguous
    ? elements.subarray(tensor.offset, tensor.offset + count)
    : gather(elements, tensor);
  if (picked instanceof Float32Array) return picked;
  if (picked instanceof Float64Array) return Float32Array.from(picked);
  return dtype === "bf16" ? bfloat16ToFloat32(picked) : halfToFloat32(picked);
}
