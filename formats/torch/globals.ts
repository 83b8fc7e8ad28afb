/**
 * The Python names a state_dict pickle may mention, and what each one
 * builds. This is the whole allow-list: `collections.OrderedDict`, the
 * tensor and parameter rebuilders of `torch._utils`, and the legacy storage
 * classes (`torch.FloatStorage`, ...) that name a storage's dtype inside a
 * persistent id. Anything else, `posix.system` or a model's own class, is
 * refused when the pickle names it. Nothing is ever called: "calling" an
 * allowed name builds plain data, checked as strictly as torch would.
 */
import { MAX_TENSOR_ELEMENTS, RefoldError } from "../../ir/mod.ts";
import type { PickleHooks } from "./pickle.ts";
import {
  DTYPE_BYTES,
  PickleDict,
  PickleGlobal,
  PickleTuple,
  type PickleValue,
  type TorchDtype,
  TorchStorage,
  TorchTensor,
  typeName,
} from "./values.ts";

/** `torch.<Name>Storage` -> element type. */
export const STORAGE_DTYPES: Readonly<Record<string, TorchDtype>> = {
  DoubleStorage: "f64",
  FloatStorage: "f32",
  HalfStorage: "f16",
  BFloat16Storage: "bf16",
  LongStorage: "i64",
  IntStorage: "i32",
  ShortStorage: "i16",
  CharStorage: "i8",
  ByteStorage: "u8",
  BoolStorage: "bool",
};

const ORDERED_DICT = "collections.OrderedDict";
const REBUILD_TENSOR = "torch._utils._rebuild_tensor_v2";
const REBUILD_PARAMETER = "torch._utils._rebuild_parameter";
const CALLABLE = [ORDERED_DICT, REBUILD_TENSOR, REBUILD_PARAMETER];

function refuse(problem: string): never {
  throw new RefoldError(problem);
}

function isCount(value: PickleValue): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function counts(value: PickleValue, what: string): number[] {
  if (!(value instanceof PickleTuple) || !value.items.every(isCount)) {
    refuse(`_rebuild_tensor_v2: ${what} must be a tuple of integers >= 0, got ${typeName(value)}`);
  }
  return value.items as number[];
}

/** `_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])`. */
function rebuildTensor(args: readonly PickleValue[]): TorchTensor {
  const [storage, offset, size, stride] = args;
  if (args.length < 6 || args.length > 7) {
    refuse(`_rebuild_tensor_v2 takes 6 or 7 arguments, got ${args.length}`);
  }
  if (!(storage instanceof TorchStorage)) {
    refuse(`_rebuild_tensor_v2: the first argument is a ${typeName(storage)}, not a storage`);
  }
  if (!isCount(offset)) refuse("_rebuild_tensor_v2: the storage offset must be an integer >= 0");
  const shape = counts(size, "size"), strides = counts(stride, "stride");
  if (shape.length !== strides.length) {
    refuse(`_rebuild_tensor_v2: size (${shape}) and stride (${strides}) differ in length`);
  }
  if (typeof args[4] !== "boolean") refuse("_rebuild_tensor_v2: requires_grad must be a bool");
  const elements = shape.reduce((a, d) => a * d, 1);
  if (elements > MAX_TENSOR_ELEMENTS) {
    refuse(`a tensor of shape [${shape}] has ${elements} elements, more than 2^30`);
  }
  if (elements > 0) {
    const last = shape.reduce((sum, d, axis) => sum + (d - 1) * strides[axis], offset);
    if (last >= storage.numel) {
      refuse(
        `a tensor of shape [${shape}], stride [${strides}], offset ${offset} reaches element ` +
          `${last} of storage ${storage.key}, which has ${storage.numel}`,
      );
    }
  }
  return new TorchTensor(storage, offset, shape, strides);
}

/** `_rebuild_parameter(data, requires_grad, backward_hooks)`: the tensor itself. */
function rebuildParameter(args: readonly PickleValue[]): TorchTensor {
  if (args.length !== 3 || !(args[0] instanceof TorchTensor)) {
    refuse("_rebuild_parameter takes (tensor, requires_grad, backward_hooks)");
  }
  return args[0];
}

/**
 * Hooks for `unpickle` that accept exactly what torch.save writes for a
 * state_dict. Storages are identified by their record key; the same key must
 * always carry the same dtype and size.
 */
export function stateDictHooks(): PickleHooks {
  const storages = new Map<string, TorchStorage>();
  return {
    global(module, name) {
      const global = new PickleGlobal(module, name);
      const known = CALLABLE.includes(global.qualifiedName) ||
        (module === "torch" && Object.hasOwn(STORAGE_DTYPES, name));
      if (!known) {
        refuse(
          `global ${global.qualifiedName} is not allowed: refold reads tensors and plain ` +
            `containers only and never runs code from a checkpoint (as ` +
            `torch.load(weights_only=True)); if it is a whole model, save model.state_dict() instead`,
        );
      }
      return global;
    },
    reduce(callable, args) {
      const name = callable instanceof PickleGlobal ? callable.qualifiedName : typeName(callable);
      if (name === ORDERED_DICT) {
        if (args.items.length !== 0) refuse("OrderedDict is only rebuilt empty, then filled");
        return new PickleDict(true);
      }
      if (name === REBUILD_TENSOR) return rebuildTensor(args.items);
      if (name === REBUILD_PARAMETER) return rebuildParameter(args.items);
      return refuse(`REDUCE of ${name} is not allowed (only OrderedDict and torch's rebuilders)`);
    },
    persistentLoad(pid) {
      const items = pid instanceof PickleTuple ? pid.items : [];
      const [kind, type, key, , numel] = items;
      const dtype = type instanceof PickleGlobal && type.module === "torch"
        ? STORAGE_DTYPES[type.name]
        : undefined;
      if (
        items.length !== 5 || kind !== "storage" || !dtype || typeof key !== "string" ||
        !isCount(numel) || typeof items[3] !== "string"
      ) {
        refuse("a persistent id must be ('storage', torch.<Type>Storage, key, location, numel)");
      }
      if (!/^[0-9A-Za-z_]{1,64}$/.test(key)) refuse(`storage key ${JSON.stringify(key)}`);
      if (numel * DTYPE_BYTES[dtype] > Number.MAX_SAFE_INTEGER) refuse(`storage of ${numel}`);
      const seen = storages.get(key);
      if (seen && (seen.dtype !== dtype || seen.numel !== numel)) {
        refuse(`storage ${key} is named as ${seen.dtype}[${seen.numel}] and ${dtype}[${numel}]`);
      }
      const storage = seen ?? new TorchStorage(key, dtype, numel);
      storages.set(key, storage);
      return storage;
    },
    build(target, state) {
      // state_dict()'s `_metadata` (module versions) arrives as the OrderedDict's __dict__.
      const attributesOnly = state instanceof PickleDict &&
        [...state.entries.keys()].every((key) => key === "_metadata");
      if (!(target instanceof PickleDict && attributesOnly)) {
        refuse(`BUILD of ${typeName(target)} with ${typeName(state)} state is not allowed`);
      }
    },
  };
}
