/**
 * Finding the state_dict in what torch.save stored: the object itself when it
 * is a dict of tensors, else the entry "model", "state_dict" or
 * "model_state_dict" of a training checkpoint (which may also hold an
 * optimizer, an epoch, ...; those are read as data and left alone).
 */
import { RefoldError } from "../../ir/mod.ts";
import { PickleDict, type PickleValue, TorchTensor, typeName } from "./values.ts";

/** The wrapper keys tried, in this order. */
export const STATE_DICT_KEYS = ["model", "state_dict", "model_state_dict"] as const;

/** A state_dict found in a checkpoint, and a phrase saying where. */
export interface FoundStateDict {
  readonly tensors: Map<string, TorchTensor>;
  readonly where: string;
}

/** The dict's tensors by key, or the reason it is not a state_dict. */
function asStateDict(value: PickleValue): Map<string, TorchTensor> | string {
  if (!(value instanceof PickleDict)) return `it is a ${typeName(value)}, not a dict`;
  if (value.entries.size === 0) return "it is an empty dict";
  const tensors = new Map<string, TorchTensor>();
  for (const [key, entry] of value.entries) {
    if (typeof key !== "string") return `it has a key of type ${typeof key}`;
    if (!(entry instanceof TorchTensor)) return `its entry "${key}" is a ${typeName(entry)}`;
    tensors.set(key, entry);
  }
  return tensors;
}

function keyList(dict: PickleDict): string {
  const keys = [...dict.entries.keys()].map(String);
  const shown = keys.slice(0, 6).join(", ");
  return keys.length > 6 ? `${shown}, ... (${keys.length} keys)` : shown;
}

/** The state_dict of a torch.save object, or one error saying what was found instead. */
export function findStateDict(root: PickleValue, file: string): FoundStateDict {
  const direct = asStateDict(root);
  if (typeof direct !== "string") return { tensors: direct, where: "a state_dict" };
  if (root instanceof PickleDict) {
    for (const key of STATE_DICT_KEYS) {
      if (!root.entries.has(key)) continue;
      const inner = asStateDict(root.entries.get(key)!);
      if (typeof inner === "string") {
        throw new RefoldError(`the checkpoint's "${key}" entry is not a state_dict: ${inner}`, {
          file,
        });
      }
      return { tensors: inner, where: `the "${key}" entry of a dict (${keyList(root)})` };
    }
  }
  throw new RefoldError(
    `no state_dict found: the saved object is not a dict of tensors (${direct}) and has no ` +
      `"model", "state_dict" or "model_state_dict" entry`,
    { file },
  );
}
