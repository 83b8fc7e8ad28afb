/**
 * The values a checkpoint's pickle can hold once read: Python's plain data
 * (None, bool, int, float, str, bytes, list, tuple, dict) and the two torch
 * objects a state_dict is made of, storages and tensors. Nothing else can be
 * built, so nothing else can reach the rest of refold.
 */
/** A dict key: Python's hashable plain values. */
export type DictKey = string | number | bigint | boolean | null;

/** A Python dict or collections.OrderedDict (both keep insertion order). */
export class PickleDict {
  readonly entries = new Map<DictKey, PickleValue>();
  constructor(readonly ordered: boolean) {}
}

/** A Python tuple. */
export class PickleTuple {
  constructor(readonly items: readonly PickleValue[]) {}
}

/** A module-level name the reader knows (e.g. `collections.OrderedDict`); never called as code. */
export class PickleGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** Element types of torch storages, named as safetensors names them (lower case). */
export type TorchDtype =
  | "f64"
  | "f32"
  | "f16"
  | "bf16"
  | "i64"
  | "i32"
  | "i16"
  | "i8"
  | "u8"
  | "bool";

/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Readonly<Record<TorchDtype, number>> = {
  f64: 8,
  f32: 4,
  f16: 2,
  bf16: 2,
  i64: 8,
  i32: 4,
  i16: 2,
  i8: 1,
  u8: 1,
  bool: 1,
};

/** A storage record `data/<key>` of the archive, as a persistent id names it. */
export class TorchStorage {
  constructor(
    readonly key: string,
    readonly dtype: TorchDtype,
    /** Elements, as the persistent id claims; checked against the record's size on read. */
    readonly numel: number,
  ) {}
}

/** A tensor: a strided view of a storage. */
export class TorchTensor {
  constructor(
    readonly storage: TorchStorage,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}
  /** True when the elements are the storage's, in row-major order, from `offset`. */
  get contiguous(): boolean {
    let expected = 1;
    for (let axis = this.shape.length - 1; axis >= 0; axis--) {
      if (this.shape[axis] !== 1 && this.stride[axis] !== expected) return false;
      expected *= this.shape[axis];
    }
    return true;
  }
}

/** Everything a checkpoint's pickle may produce. */
export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | PickleTuple
  | PickleDict
  | PickleGlobal
  | TorchStorage
  | TorchTensor;

/** A short name of a value's Python type, for error messages. */
export function typeName(value: PickleValue): string {
  if (value === null) return "None";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float";
  if (typeof value === "bigint") return "int";
  if (typeof value === "string") return "str";
  if (value instanceof Uint8Array) return "bytes";
  if (Array.isArray(value)) return "list";
  if (value instanceof PickleTuple) return "tuple";
  if (value instanceof PickleDict) return value.ordered ? "OrderedDict" : "dict";
  if (value instanceof PickleGlobal) return value.qualifiedName;
  if (value instanceof TorchStorage) return "storage";
  return "tensor";
}
