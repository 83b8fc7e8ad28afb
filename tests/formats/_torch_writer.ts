/**
 * Test helpers that write torch.save-shaped files byte by byte, so that tests
 * can make what PyTorch never writes: hostile pickles, broken zips, big-endian
 * storages, zip64 records. `pickle` assembles opcodes; `stateDictPickle`
 * writes what torch writes for a state_dict; `zipStored` and `torchArchive`
 * wrap records in a stored zip (optionally zip64).
 */
import { crc32 } from "node:zlib";

/** An opcode assembler: each method appends one opcode with its operand. */
export class Pickle {
  readonly #bytes: number[] = [];

  raw(...bytes: number[]): this {
    this.#bytes.push(...bytes);
    return this;
  }
  #u32(value: number): number[] {
    return [value & 255, (value >>> 8) & 255, (value >>> 16) & 255, (value >>> 24) & 255];
  }
  #u64(value: bigint): number[] {
    return Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(8 * i)) & 255n));
  }
  proto(version = 2): this {
    return this.raw(0x80, version);
  }
  global(module: string, name: string): this {
    return this.raw(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }
  str(text: string): this {
    const bytes = new TextEncoder().encode(text);
    return this.raw(0x58, ...this.#u32(bytes.length), ...bytes);
  }
  /** BINUNICODE8 with a claimed length (for size attacks). */
  str8(length: bigint, bytes: number[] = []): this {
    return this.raw(0x8d, ...this.#u64(length), ...bytes);
  }
  int(value: number): this {
    if (value >= 0 && value < 256) return this.raw(0x4b, value);
    return this.raw(0x4a, ...this.#u32(value >>> 0));
  }
  /** LONG4 with a claimed byte length. */
  long4(length: number, bytes: number[] = []): this {
    return this.raw(0x8b, ...this.#u32(length), ...bytes);
  }
  none(): this {
    return this.raw(0x4e);
  }
  bool(value: boolean): this {
    return this.raw(value ? 0x88 : 0x89);
  }
  mark(): this {
    return this.raw(0x28);
  }
  tuple(): this {
    return this.raw(0x74);
  }
  emptyTuple(): this {
    return this.raw(0x29);
  }
  emptyDict(): this {
    return this.raw(0x7d);
  }
  emptyList(): this {
    return this.raw(0x5d);
  }
  append(): this {
    return this.raw(0x61);
  }
  setitem(): this {
    return this.raw(0x73);
  }
  setitems(): this {
    return this.raw(0x75);
  }
  reduce(): this {
    return this.raw(0x52);
  }
  persid(): this {
    return this.raw(0x51);
  }
  put(index: number): this {
    return index < 256 ? this.raw(0x71, index) : this.raw(0x72, ...this.#u32(index));
  }
  get(index: number): this {
    return index < 256 ? this.raw(0x68, index) : this.raw(0x6a, ...this.#u32(index));
  }
  stop(): this {
    return this.raw(0x2e);
  }
  /** (storage, torch.<dtype>Storage, key, "cpu", numel) then BINPERSID. */
  storage(key: string, storageType: string, numel: number): this {
    return this.mark().str("storage").global("torch", storageType).str(key).str("cpu")
      .int(numel).tuple().persid();
  }
  /** _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()). */
  tensor(spec: TensorSpec): this {
    this.global("torch._utils", "_rebuild_tensor_v2").mark();
    this.storage(spec.key, spec.storageType ?? "FloatStorage", spec.numel);
    this.int(spec.offset ?? 0).mark();
    for (const d of spec.shape) this.int(d);
    this.tuple().mark();
    for (const s of spec.stride ?? rowMajor(spec.shape)) this.int(s);
    this.tuple().bool(false).global("collections", "OrderedDict").emptyTuple().reduce();
    return this.tuple().reduce();
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }
}

/** A tensor of a hand-written state_dict pickle. */
export interface TensorSpec {
  readonly name: string;
  readonly key: string;
  readonly numel: number;
  readonly shape: readonly number[];
  readonly stride?: readonly number[];
  readonly offset?: number;
  readonly storageType?: string;
}

/** Row-major strides of `shape`. */
export function rowMajor(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length).fill(1);
  for (let axis = shape.length - 2; axis >= 0; axis--) {
    strides[axis] = strides[axis + 1] * shape[axis + 1];
  }
  return strides;
}

/** `OrderedDict([(name, tensor), ...])` as torch pickles a state_dict. */
export function stateDictPickle(tensors: readonly TensorSpec[]): Uint8Array {
  const p = new Pickle().proto(2).global("collections", "OrderedDict").emptyTuple().reduce()
    .mark();
  for (const spec of tensors) p.str(spec.name).tensor(spec);
  return p.setitems().stop().bytes();
}

/** One record of a zip archive. */
export interface ZipRecord {
  readonly name: string;
  readonly data: Uint8Array;
  /** Compression method written in the headers (default 0, stored). */
  readonly method?: number;
  /** General-purpose flags (bit 0: encrypted). */
  readonly flags?: number;
}

function le(size: number, value: number | bigint): number[] {
  const big = BigInt(value);
  return Array.from({ length: size }, (_, i) => Number((big >> BigInt(8 * i)) & 255n));
}

/** Concatenates byte arrays. */
function concat(parts: readonly (Uint8Array | number[])[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A stored zip archive of `records`; `zip64` writes every size and offset in zip64 form. */
export function zipStored(
  records: readonly ZipRecord[],
  options: { zip64?: boolean } = {},
): Uint8Array {
  const local: (Uint8Array | number[])[] = [];
  const central: (Uint8Array | number[])[] = [];
  const enc = new TextEncoder();
  const max32 = 0xffffffff;
  let offset = 0, centralSize = 0;
  for (const record of records) {
    const name = enc.encode(record.name);
    const size = options.zip64 ? max32 : record.data.length;
    const common = [
      ...le(2, 20),
      ...le(2, record.flags ?? 0),
      ...le(2, record.method ?? 0),
      ...le(4, 0),
      ...le(4, crc32(record.data) >>> 0),
      ...le(4, size),
      ...le(4, size),
      ...le(2, name.length),
    ];
    const header = [...le(4, 0x04034b50), ...common, ...le(2, 0)];
    local.push(header, name, record.data);
    const extra = options.zip64
      ? [
        ...le(2, 1),
        ...le(2, 24),
        ...le(8, record.data.length),
        ...le(8, record.data.length),
        ...le(8, offset),
      ]
      : [];
    const entry = [
      ...le(4, 0x02014b50),
      ...le(2, 20),
      ...common,
      ...le(2, extra.length),
      ...le(2, 0),
      ...le(2, 0),
      ...le(2, 0),
      ...le(4, 0),
      ...le(4, options.zip64 ? max32 : offset),
    ];
    central.push(entry, name, extra);
    centralSize += entry.length + name.length + extra.length;
    offset += header.length + name.length + record.data.length;
  }
  const directoryOffset = offset;
  const tail: number[] = [];
  if (options.zip64) {
    const recordAt = directoryOffset + centralSize;
    tail.push(
      ...le(4, 0x06064b50),
      ...le(8, 44),
      ...le(2, 45),
      ...le(2, 45),
      ...le(4, 0),
      ...le(4, 0),
      ...le(8, records.length),
      ...le(8, records.length),
      ...le(8, centralSize),
      ...le(8, directoryOffset),
    );
    tail.push(...le(4, 0x07064b50), ...le(4, 0), ...le(8, recordAt), ...le(4, 1));
  }
  const count = options.zip64 ? 0xffff : records.length;
  tail.push(
    ...le(4, 0x06054b50),
    ...le(2, 0),
    ...le(2, 0),
    ...le(2, count),
    ...le(2, count),
    ...le(4, options.zip64 ? max32 : centralSize),
    ...le(4, options.zip64 ? max32 : directoryOffset),
    ...le(2, 0),
  );
  return concat([...local, ...central, tail]);
}

/** A torch.save archive: `archive/data.pkl`, `archive/data/<key>`, optional byteorder. */
export function torchArchive(
  pickle: Uint8Array,
  storages: Readonly<Record<string, Uint8Array>>,
  options: { byteorder?: string; zip64?: boolean; prefix?: string } = {},
): Uint8Array {
  const prefix = options.prefix ?? "archive";
  const records: ZipRecord[] = [{ name: `${prefix}/data.pkl`, data: pickle }];
  for (const [key, data] of Object.entries(storages)) {
    records.push({ name: `${prefix}/data/${key}`, data });
  }
  if (options.byteorder !== undefined) {
    records.push({
      name: `${prefix}/byteorder`,
      data: new TextEncoder().encode(options.byteorder),
    });
  }
  records.push({ name: `${prefix}/version`, data: new TextEncoder().encode("3\n") });
  return zipStored(records, options);
}

/** The little-endian bytes of float32 values. */
export function f32le(values: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(4 * values.length);
  const view = new DataView(bytes.buffer);
  values.forEach((value, i) => view.setFloat32(4 * i, value, true));
  return bytes;
}
