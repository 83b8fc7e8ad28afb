/**
 * Writing safetensors: F32 tensors after a header padded with spaces to a
 * multiple of 8 bytes (so the data starts aligned, as the format asks),
 * streamed to disk tensor by tensor rather than assembled in memory.
 */
import { RefoldError } from "../../ir/mod.ts";
import { LITTLE_ENDIAN, swapBytes } from "./header.ts";

/** A float32 tensor to write. */
export interface NamedTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Options of the writers. */
export interface WriteOptions {
  /** String pairs stored as `__metadata__`. */
  metadata?: Readonly<Record<string, string>>;
}

/** The header bytes (padded with spaces to a multiple of 8, as the format asks) and offsets. */
function layout(
  tensors: readonly NamedTensor[],
  options: WriteOptions,
): { prefix: Uint8Array; dataSize: number } {
  const header: Record<string, unknown> = {};
  if (options.metadata) header.__metadata__ = { ...options.metadata };
  let offset = 0;
  for (const { name, shape, data } of tensors) {
    if (name === "__metadata__" || Object.hasOwn(header, name)) {
      throw new RefoldError(`cannot write tensor "${name}": the name is taken`);
    }
    const valid = shape.every((d) => Number.isSafeInteger(d) && d >= 0);
    if (!valid || shape.reduce((a, d) => a * d, 1) !== data.length) {
      throw new RefoldError(
        `cannot write tensor "${name}": ${data.length} values do not fit shape [${shape}]`,
      );
    }
    header[name] = {
      dtype: "F32",
      shape: [...shape],
      data_offsets: [offset, offset + data.byteLength],
    };
    offset += data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const prefix = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(padded), true);
  prefix.set(json, 8);
  return { prefix, dataSize: offset };
}

function tensorBytes(data: Float32Array): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN) return bytes;
  const copy = bytes.slice();
  swapBytes(copy, 4);
  return copy;
}

/** The bytes of a safetensors file holding `tensors` as F32, in order. */
export function encodeSafetensors(
  tensors: readonly NamedTensor[],
  options: WriteOptions = {},
): Uint8Array {
  const { prefix, dataSize } = layout(tensors, options);
  const out = new Uint8Array(prefix.length + dataSize);
  out.set(prefix);
  let offset = prefix.length;
  for (const { data } of tensors) {
    out.set(tensorBytes(data), offset);
    offset += data.byteLength;
  }
  return out;
}

/**
 * Streams `tensors` to `path` as F32 without building the file in memory.
 * Writes `path` directly; writeSafetensors is the atomic wrapper.
 */
export async function writeSafetensorsTo(
  path: string,
  tensors: readonly NamedTensor[],
  options: WriteOptions = {},
): Promise<void> {
  const { prefix } = layout(tensors, options);
  const handle = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    await writeAll(handle, prefix);
    for (const { data } of tensors) await writeAll(handle, tensorBytes(data));
  } finally {
    handle.close();
  }
}

/** Writes a safetensors file atomically: a temporary file renamed into place. */
export async function writeSafetensors(
  path: string,
  tensors: readonly NamedTensor[],
  options: WriteOptions = {},
): Promise<void> {
  const temporary = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await writeSafetensorsTo(temporary, tensors, options);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    if (error instanceof RefoldError) throw error;
    throw new RefoldError(`cannot write: ${(error as Error).message}`, { file: path });
  }
}

async function writeAll(handle: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await handle.write(bytes.subarray(done));
}
