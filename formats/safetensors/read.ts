/**
 * Reading safetensors: the header is validated first, then each tensor is
 * read on demand straight into its own buffer (one copy of the file's bytes),
 * converted to float32 when stored as F16, BF16 or F64.
 */
import { RefoldError } from "../../ir/mod.ts";
import { bfloat16ToFloat32, halfToFloat32 } from "../dtypes.ts";
import {
  checkHeaderLength,
  DTYPE_BYTES,
  LITTLE_ENDIAN,
  parseHeader,
  READABLE_DTYPES,
  swapBytes,
  type TensorInfo,
} from "./header.ts";
import type { NamedTensor } from "./write.ts";

/** An open safetensors file (or byte array) whose header has been validated. */
export interface SafetensorsReader {
  /** The file name used in error messages. */
  readonly file: string;
  /** Every tensor of the header, readable or not, in header order. */
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  /** The `__metadata__` map ({} when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  /** The values of one tensor as float32; throws a RefoldError for unknown or integer tensors. */
  read(name: string): Promise<Float32Array>;
  /** Releases the file; reads after this fail. */
  close(): void;
}

type ReadAt = (position: number, into: Uint8Array) => Promise<void>;

/** Opens a safetensors file and validates its header; read tensors with `read`, then `close`. */
export async function openSafetensors(
  path: string,
  options: { label?: string } = {},
): Promise<SafetensorsReader> {
  const file = options.label ?? path;
  let handle: Deno.FsFile;
  try {
    handle = await Deno.open(path, { read: true });
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "no such file"
      : (error as Error).message.replace(/ \(os error \d+\).*$/, "");
    throw new RefoldError(`cannot open: ${reason}`, { file });
  }
  try {
    const size = (await handle.stat()).size;
    // Reads seek then read, so they must not interleave.
    let queue: Promise<unknown> = Promise.resolve();
    const readAt: ReadAt = (position, into) => {
      const next = queue.then(() => readFully(handle, position, into, file));
      queue = next.catch(() => {});
      return next;
    };
    const lengthBytes = new Uint8Array(Math.min(8, size));
    await readAt(0, lengthBytes);
    const headerLength = checkHeaderLength(lengthBytes, size, file);
    const headerBytes = new Uint8Array(headerLength);
    await readAt(8, headerBytes);
    return makeReader(file, headerBytes, size, readAt, () => handle.close());
  } catch (error) {
    handle.close();
    throw error;
  }
}

/** Validates safetensors bytes already in memory. */
export function parseSafetensors(bytes: Uint8Array, options: { file: string }): SafetensorsReader {
  const { file } = options;
  const headerLength = checkHeaderLength(bytes.subarray(0, 8), bytes.length, file);
  const readAt: ReadAt = (position, into) => {
    into.set(bytes.subarray(position, position + into.length));
    return Promise.resolve();
  };
  return makeReader(file, bytes.subarray(8, 8 + headerLength), bytes.length, readAt, () => {});
}

/** Reads every readable tensor of a file, skipping integer ones. */
export async function readSafetensors(
  path: string,
  options: { label?: string } = {},
): Promise<Map<string, NamedTensor>> {
  const reader = await openSafetensors(path, options);
  try {
    const out = new Map<string, NamedTensor>();
    for (const info of reader.tensors.values()) {
      if (!READABLE_DTYPES.includes(info.dtype)) continue;
      out.set(info.name, {
        name: info.name,
        shape: info.shape,
        data: await reader.read(info.name),
      });
    }
    return out;
  } finally {
    reader.close();
  }
}

function makeReader(
  file: string,
  headerBytes: Uint8Array,
  size: number,
  readAt: ReadAt,
  close: () => void,
): SafetensorsReader {
  const dataStart = 8 + headerBytes.length;
  const { tensors, metadata } = parseHeader(headerBytes, size - dataStart, file);
  let closed = false;
  return {
    file,
    tensors,
    metadata,
    async read(name) {
      const info = tensors.get(name);
      if (!info) throw new RefoldError(`no tensor "${name}"`, { file });
      if (!READABLE_DTYPES.includes(info.dtype)) {
        throw new RefoldError(
          `tensor "${name}" has dtype ${info.dtype}; refold reads ${READABLE_DTYPES.join(", ")}`,
          { file },
        );
      }
      if (closed) throw new RefoldError(`tensor "${name}" read after close`, { file });
      const count = info.shape.reduce((a, d) => a * d, 1);
      const width = DTYPE_BYTES[info.dtype];
      // A fresh buffer per tensor: aligned for any typed-array view, and the only copy.
      const raw = new ArrayBuffer(count * width);
      await readAt(dataStart + info.begin, new Uint8Array(raw));
      if (!LITTLE_ENDIAN) swapBytes(new Uint8Array(raw), width);
      return toFloat32(info.dtype, raw, count);
    },
    close() {
      if (!closed) close();
      closed = true;
    },
  };
}

async function readFully(
  handle: Deno.FsFile,
  position: number,
  into: Uint8Array,
  file: string,
): Promise<void> {
  await handle.seek(position, Deno.SeekMode.Start);
  let done = 0;
  while (done < into.length) {
    const count = await handle.read(into.subarray(done));
    if (count === null) {
      throw new RefoldError(
        `file ends at byte ${position + done}, expected ${into.length - done} more bytes ` +
          `(truncated while reading?)`,
        { file },
      );
    }
    done += count;
  }
}

function toFloat32(dtype: string, buffer: ArrayBuffer, count: number): Float32Array {
  if (dtype === "F32") return new Float32Array(buffer, 0, count);
  if (dtype === "F64") return new Float32Array(new Float64Array(buffer, 0, count));
  const bits = new Uint16Array(buffer, 0, count);
  return dtype === "BF16" ? bfloat16ToFloat32(bits) : halfToFloat32(bits);
}
