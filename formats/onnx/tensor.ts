/**
 * Constant tensors on the ONNX side: initializers and Constant values decoded
 * from TensorProto (raw_data or typed fields, external data files), and the
 * reverse for export. Floats are held as float32 values (the IR stores f32);
 * integers only ever feed shape computations, so a float64 holds them exactly
 * up to 2^53, which every shape fits.
 */
import { fromHalf, RefoldError, sizeOf } from "../../ir/mod.ts";
import { realPathInside, staysInside } from "../inside.ts";
import { DataType, type TensorProto, toInt } from "./proto.ts";

/** Element classes of constants: floats become weights, ints and bools only feed shapes. */
export type ConstDType = "float" | "int" | "bool";

/** A constant tensor known at import time. */
export interface ConstTensor {
  readonly dtype: ConstDType;
  readonly shape: readonly number[];
  /** Float32Array for float initializers (shared with the weight they become), else float64. */
  readonly data: Float64Array | Float32Array;
  /** The ONNX value name it came from, used to name the weight it may become. */
  readonly name: string;
}

/** Where a tensor's bytes may live, for external data. */
export interface TensorSource {
  /** The model file, for error messages. */
  readonly file: string;
  /** The directory external data locations are relative to; external data must lie inside it. */
  readonly externalDataDir: string;
  /** Called with the real path of every external data file read. */
  readonly onFile?: (path: string) => void;
}

const ELEMENT_BYTES: Record<number, number> = {
  [DataType.FLOAT]: 4,
  [DataType.DOUBLE]: 8,
  [DataType.FLOAT16]: 2,
  [DataType.INT64]: 8,
  [DataType.INT32]: 4,
  [DataType.INT8]: 1,
  [DataType.UINT8]: 1,
  [DataType.BOOL]: 1,
};

const DTYPE_NAMES: Record<number, string> = {
  0: "UNDEFINED",
  4: "UINT16",
  5: "INT16",
  8: "STRING",
  12: "UINT32",
  13: "UINT64",
  14: "COMPLEX64",
  15: "COMPLEX128",
  16: "BFLOAT16",
};

/** The ONNX name of a data type, for messages. */
export function dataTypeName(type: number): string {
  const known = Object.entries(DataType).find(([, value]) => value === type);
  return known ? known[0] : DTYPE_NAMES[type] ?? `type ${type}`;
}

/** The refold element class of an ONNX data type, or undefined when refold cannot hold it. */
export function constDType(type: number): ConstDType | undefined {
  if (type === DataType.FLOAT || type === DataType.DOUBLE || type === DataType.FLOAT16) {
    return "float";
  }
  if (type === DataType.BOOL) return "bool";
  if (
    type === DataType.INT64 || type === DataType.INT32 || type === DataType.INT8 ||
    type === DataType.UINT8
  ) return "int";
  return undefined;
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

function decodeBytes(
  bytes: Uint8Array,
  type: number,
  count: number,
): Float64Array | Float32Array {
  // The bulk of every model: copied once, as the float32 data of its weight.
  if (type === DataType.FLOAT && LITTLE_ENDIAN) {
    return new Float32Array(new Uint8Array(bytes).buffer);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    switch (type) {
      case DataType.FLOAT:
        out[i] = view.getFloat32(4 * i, true);
        break;
      case DataType.DOUBLE:
        out[i] = Math.fround(view.getFloat64(8 * i, true));
        break;
      case DataType.FLOAT16:
        out[i] = fromHalf(view.getUint16(2 * i, true));
        break;
      case DataType.INT64:
        out[i] = Number(view.getBigInt64(8 * i, true));
        break;
      case DataType.INT32:
        out[i] = view.getInt32(4 * i, true);
        break;
      case DataType.INT8:
        out[i] = view.getInt8(i);
        break;
      default: // UINT8, BOOL
        out[i] = view.getUint8(i);
    }
  }
  return out;
}

function readExternal(tensor: TensorProto, bytes: number, source: TensorSource): Uint8Array {
  const entries = new Map((tensor.external_data ?? []).map((e) => [e.key ?? "", e.value ?? ""]));
  const location = entries.get("location") ?? "";
  const what = `initializer "${tensor.name}"`;
  const fail = (problem: string): never => {
    throw new RefoldError(`${what}: ${problem}`, { file: source.file });
  };
  if (!location) fail("external data without a location");
  if (!staysInside(location)) {
    fail(`external data location "${location}" leaves the model's directory`);
  }
  // Inside the model's directory after resolving links too: `leak -> /etc/passwd` must not be read.
  const path = realPathInside(source.externalDataDir, location, {
    describe: `${what}: external data location "${location}"`,
    file: source.file,
  });
  const offset = Number(entries.get("offset") ?? 0);
  const length = entries.has("length") ? Number(entries.get("length")) : undefined;
  if (!Number.isSafeInteger(offset) || offset < 0) fail(`bad external data offset "${offset}"`);
  if (length !== undefined && length !== bytes) {
    fail(`external data length ${length} does not match its ${bytes}-byte shape`);
  }
  let file: Deno.FsFile;
  try {
    if (path === undefined) throw new Deno.errors.NotFound();
    // Opening a FIFO would block: external data must be a regular file.
    if (!Deno.statSync(path).isFile) {
      return fail(`external data "${location}" in ${source.externalDataDir} is not a file`);
    }
    file = Deno.openSync(path, { read: true });
    source.onFile?.(path);
  } catch (error) {
    if (error instanceof RefoldError) throw error;
    return fail(`external data file "${location}" not found in ${source.externalDataDir}`);
  }
  try {
    const size = file.statSync().size;
    if (offset + bytes > size) {
      fail(
        `external data file "${location}" has ${size} bytes, the tensor needs ${bytes} at offset ${offset}`,
      );
    }
    const out = new Uint8Array(bytes);
    file.seekSync(offset, Deno.SeekMode.Start);
    for (let read = 0; read < bytes;) {
      const got = file.readSync(out.subarray(read));
      if (!got) fail(`external data file "${location}" ended early`);
      read += got!;
    }
    return out;
  } finally {
    file.close();
  }
}

/** Decodes a TensorProto; `name` overrides the tensor's own name (Constant nodes). */
export function readTensor(tensor: TensorProto, source: TensorSource, name?: string): ConstTensor {
  const type = tensor.data_type ?? 0;
  const label = name ?? tensor.name ?? "";
  const fail = (problem: string): never => {
    throw new RefoldError(`tensor "${label}": ${problem}`, { file: source.file });
  };
  const dtype = constDType(type) ?? fail(`unsupported data type ${dataTypeName(type)}`);
  const shape = (tensor.dims ?? []).map(toInt);
  if (!shape.every((dim) => Number.isSafeInteger(dim) && dim >= 0)) {
    fail(`bad dimensions [${shape}]`);
  }
  const count = sizeOf(shape);
  const bytes = count * ELEMENT_BYTES[type];
  let data: Float64Array | Float32Array;
  if (tensor.data_location === 1) {
    data = decodeBytes(readExternal(tensor, bytes, source), type, count);
  } else if (tensor.raw_data && tensor.raw_data.length > 0) {
    if (tensor.raw_data.length !== bytes) {
      fail(`raw_data holds ${tensor.raw_data.length} bytes, shape [${shape}] needs ${bytes}`);
    }
    data = decodeBytes(tensor.raw_data, type, count);
  } else {
    data = typedField(tensor, type, count, fail);
  }
  return { dtype, shape, data, name: label };
}

function typedField(
  tensor: TensorProto,
  type: number,
  count: number,
  fail: (problem: string) => never,
): Float64Array {
  let values: ArrayLike<number>;
  if (type === DataType.FLOAT) values = tensor.float_data ?? [];
  else if (type === DataType.DOUBLE) {
    values = Float64Array.from(tensor.double_data ?? [], Math.fround);
  } else if (type === DataType.INT64) values = (tensor.int64_data ?? []).map(toInt);
  else if (type === DataType.FLOAT16) values = (tensor.int32_data ?? []).map(fromHalf);
  else values = tensor.int32_data ?? [];
  if (values.length !== count) {
    fail(`holds ${values.length} values, its shape needs ${count}`);
  }
  return Float64Array.from(values);
}

/** Encodes a float32 weight as an initializer with raw_data. */
export function floatInitializer(
  name: string,
  shape: readonly number[],
  data: Float32Array,
): TensorProto {
  let raw: Uint8Array;
  if (LITTLE_ENDIAN) raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  else {
    raw = new Uint8Array(data.length * 4);
    const view = new DataView(raw.buffer);
    data.forEach((value, i) => view.setFloat32(4 * i, value, true));
  }
  return { name, dims: [...shape], data_type: DataType.FLOAT, raw_data: raw };
}

/** Encodes an int64 vector (shapes, axes) as an initializer. */
export function int64Initializer(name: string, values: readonly number[]): TensorProto {
  const raw = new Uint8Array(values.length * 8);
  const view = new DataView(raw.buffer);
  values.forEach((value, i) => view.setBigInt64(8 * i, BigInt(value), true));
  return { name, dims: [values.length], data_type: DataType.INT64, raw_data: raw };
}
