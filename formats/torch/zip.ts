/**
 * The zip container of torch.save (PyTorch >= 1.6): stored (uncompressed)
 * records, each aligned to 64 bytes by padding in its local header's extra
 * field, and a central directory at the end, in zip64 form past 4 GiB.
 *
 * A small reader of our own rather than a zip library: what a checkpoint
 * needs is random access to stored records straight from the file, each read
 * once into its own buffer and never the whole file in memory. Libraries
 * (fflate, JSZip) take the whole archive as one buffer and copy every entry
 * out of it, which doubles a 300 MB checkpoint before a tensor is made; and
 * they inflate, which torch never needs. This reader refuses what torch does
 * not write (compression, encryption, multi-disk archives) by name.
 *
 * Every size and offset is checked before it is used, and the records' sizes
 * together may not exceed the file, so that reading every record once costs
 * at most the file's size. Each record's CRC-32 is checked when it is read
 * (node:zlib's native crc32: about 20 GB/s, nothing next to the read itself).
 */
import { crc32 } from "node:zlib";
import { RefoldError } from "../../ir/mod.ts";
import type { ByteSource } from "./bytes.ts";

/** One record of the archive, as the central directory describes it. */
export interface ZipEntry {
  readonly name: string;
  /** 0 = stored; anything else is refused when read. */
  readonly method: number;
  readonly crc: number;
  readonly size: number;
  readonly uncompressedSize: number;
  readonly localHeaderOffset: number;
}

/** An archive whose central directory has been read and checked. */
export interface ZipArchive {
  readonly entries: ReadonlyMap<string, ZipEntry>;
  /** The record's bytes, CRC-checked; a view when the source is in memory. */
  read(entry: ZipEntry): Promise<Uint8Array>;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
/** A central directory beyond this is no checkpoint's (B224 has ~500 records, 60 KB). */
const MAX_DIRECTORY_BYTES = 64 * 2 ** 20;
const MAX_ENTRIES = 1_000_000;

/** True when `head` starts like a zip archive's first local header. */
export function looksLikeZip(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 3 &&
    head[3] === 4;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A u64 as a number, refused past 2^53 (no file is that large). */
function u64(data: DataView, at: number, fail: (problem: string) => never): number {
  const value = data.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) fail(`a 64-bit field holds ${value}`);
  return Number(value);
}

/** Reads and checks the central directory of `source`. */
export async function openZip(source: ByteSource): Promise<ZipArchive> {
  const fail = (problem: string): never => {
    throw new RefoldError(`not a valid torch.save zip archive: ${problem}`, { file: source.file });
  };
  if (source.size < 22) fail(`the file is ${source.size} bytes, too short for a zip archive`);
  const tailLength = Math.min(source.size, 22 + 0xffff);
  const tailStart = source.size - tailLength;
  const tail = await source.read(tailStart, tailLength);
  const tailView = view(tail);
  let at = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    // The comment length must reach exactly to the end: a signature inside a comment is not it.
    if (
      tailView.getUint32(i, true) === EOCD &&
      i + 22 + tailView.getUint16(i + 20, true) === tail.length
    ) {
      at = i;
      break;
    }
  }
  if (at < 0) fail("no end-of-central-directory record (truncated, or not a zip file)");
  const eocdPosition = tailStart + at;
  if (tailView.getUint16(at + 4, true) !== 0 || tailView.getUint16(at + 6, true) !== 0) {
    fail("multi-disk archives are not supported");
  }
  let count = tailView.getUint16(at + 10, true);
  let directorySize = tailView.getUint32(at + 12, true);
  let directoryOffset = tailView.getUint32(at + 16, true);
  let directoryEnd = eocdPosition;
  if (count === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) {
    const locatorAt = eocdPosition - 20;
    if (locatorAt < 0) fail("zip64 fields without a zip64 locator");
    const locator = view(await source.read(locatorAt, 20));
    if (locator.getUint32(0, true) !== ZIP64_LOCATOR) fail("zip64 fields without a zip64 locator");
    const recordAt = u64(locator, 8, fail);
    if (recordAt + 56 > locatorAt) fail(`zip64 record offset ${recordAt} is out of range`);
    const record = view(await source.read(recordAt, 56));
    if (record.getUint32(0, true) !== ZIP64_EOCD) fail("zip64 end record signature is wrong");
    count = u64(record, 32, fail);
    directorySize = u64(record, 40, fail);
    directoryOffset = u64(record, 48, fail);
    directoryEnd = recordAt;
  }
  if (directoryOffset + directorySize > directoryEnd) {
    fail(
      `central directory [${directoryOffset}, ${directoryOffset + directorySize}) runs past ` +
        `its end record at ${directoryEnd} (truncated?)`,
    );
  }
  if (directorySize > MAX_DIRECTORY_BYTES) fail(`central directory of ${directorySize} bytes`);
  if (count > MAX_ENTRIES || count * 46 > directorySize) {
    fail(`${count} entries do not fit a ${directorySize}-byte central directory`);
  }
  const directory = await source.read(directoryOffset, directorySize);
  const entries = parseDirectory(directory, count, directoryOffset, fail);
  return {
    entries,
    read: (entry) => readEntry(source, entry, directoryOffset, fail),
  };
}

function parseDirectory(
  directory: Uint8Array,
  count: number,
  dataEnd: number,
  fail: (problem: string) => never,
): Map<string, ZipEntry> {
  const data = view(directory);
  const entries = new Map<string, ZipEntry>();
  let total = 0;
  let at = 0;
  for (let index = 0; index < count; index++) {
    if (at + 46 > directory.length || data.getUint32(at, true) !== CENTRAL) {
      fail(`central directory entry ${index} is malformed`);
    }
    const flags = data.getUint16(at + 8, true);
    const nameLength = data.getUint16(at + 28, true);
    const extraLength = data.getUint16(at + 30, true);
    const commentLength = data.getUint16(at + 32, true);
    const end = at + 46 + nameLength + extraLength + commentLength;
    if (end > directory.length) fail(`central directory entry ${index} runs past the directory`);
    const name = decodeName(directory.subarray(at + 46, at + 46 + nameLength), index, fail);
    if (flags & 1) fail(`entry "${name}" is encrypted`);
    const fields = {
      size: data.getUint32(at + 20, true),
      uncompressedSize: data.getUint32(at + 24, true),
      localHeaderOffset: data.getUint32(at + 42, true),
    };
    readZip64Extra(
      directory.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength),
      fields,
      name,
      fail,
    );
    if (entries.has(name)) fail(`entry "${name}" appears twice`);
    if (fields.localHeaderOffset + 30 + fields.size > dataEnd) {
      fail(`entry "${name}" [${fields.localHeaderOffset}, +${fields.size}) overlaps the directory`);
    }
    total += fields.size;
    if (total > dataEnd) fail("the entries together are larger than the file");
    entries.set(name, {
      name,
      method: data.getUint16(at + 10, true),
      crc: data.getUint32(at + 16, true),
      ...fields,
    });
    at = end;
  }
  return entries;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

function decodeName(bytes: Uint8Array, index: number, fail: (problem: string) => never): string {
  try {
    return decoder.decode(bytes);
  } catch {
    return fail(`entry ${index} has a name that is not UTF-8`);
  }
}

/** Replaces 0xFFFFFFFF fields by the values of the zip64 extra field (id 1), in the spec's order. */
function readZip64Extra(
  extra: Uint8Array,
  fields: { size: number; uncompressedSize: number; localHeaderOffset: number },
  name: string,
  fail: (problem: string) => never,
): void {
  const wanted = (["uncompressedSize", "size", "localHeaderOffset"] as const)
    .filter((key) => fields[key] === 0xffffffff);
  if (wanted.length === 0) return;
  const data = view(extra);
  for (let at = 0; at + 4 <= extra.length;) {
    const id = data.getUint16(at, true);
    const length = data.getUint16(at + 2, true);
    if (at + 4 + length > extra.length) break;
    if (id === 1) {
      if (length < 8 * wanted.length) break;
      wanted.forEach((key, i) => (fields[key] = u64(data, at + 4 + 8 * i, fail)));
      return;
    }
    at += 4 + length;
  }
  fail(`entry "${name}" needs a zip64 extra field and has none`);
}

async function readEntry(
  source: ByteSource,
  entry: ZipEntry,
  dataEnd: number,
  fail: (problem: string) => never,
): Promise<Uint8Array> {
  if (entry.method !== 0) {
    fail(
      `entry "${entry.name}" is compressed (method ${entry.method}); torch.save writes stored ` +
        `records (re-save the checkpoint with torch.save)`,
    );
  }
  if (entry.size !== entry.uncompressedSize) {
    fail(
      `stored entry "${entry.name}" has ${entry.size} bytes but claims ${entry.uncompressedSize}`,
    );
  }
  const header = view(await source.read(entry.localHeaderOffset, 30));
  if (header.getUint32(0, true) !== LOCAL) fail(`entry "${entry.name}" has no local header`);
  const start = entry.localHeaderOffset + 30 + header.getUint16(26, true) +
    header.getUint16(28, true);
  if (start + entry.size > dataEnd) {
    fail(`entry "${entry.name}" data [${start}, ${start + entry.size}) overlaps the directory`);
  }
  const bytes = await source.read(start, entry.size);
  if ((crc32(bytes) >>> 0) !== entry.crc) {
    fail(`entry "${entry.name}" fails its CRC-32 check (corrupt file)`);
  }
  return bytes;
}
