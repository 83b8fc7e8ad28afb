/**
 * Strict matching of a checkpoint against a layout, as PyTorch's
 * `load_state_dict(strict=True)`: every expected key present with its exact
 * shape and a float dtype, and every checkpoint tensor used. BatchNorm's
 * `num_batches_tracked` counters are the one exception: they never reach
 * inference. All problems are reported together, in one line, with counts.
 */
import type { CheckpointTensor } from "../formats/mod.ts";
import { FLOAT_DTYPES } from "../formats/mod.ts";

/** What keeps a checkpoint from fitting a layout. */
export interface StateDictMismatch {
  readonly missing: readonly string[];
  readonly unexpected: readonly string[];
  /** Same key, other shape. */
  readonly wrongShape: readonly {
    key: string;
    checkpoint: readonly number[];
    model: readonly number[];
  }[];
  /** Same key and shape, but integer or boolean values. */
  readonly wrongDtype: readonly { key: string; dtype: string }[];
}

/** True for the keys strict loading ignores. */
export function isIgnoredKey(key: string): boolean {
  return key === "num_batches_tracked" || key.endsWith(".num_batches_tracked");
}

const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** Every difference between what the layout expects and what the checkpoint holds. */
export function compareStateDict(
  expected: ReadonlyMap<string, readonly number[]>,
  tensors: ReadonlyMap<string, CheckpointTensor>,
): StateDictMismatch {
  const missing: string[] = [];
  const wrongShape: { key: string; checkpoint: readonly number[]; model: readonly number[] }[] = [];
  const wrongDtype: { key: string; dtype: string }[] = [];
  for (const [key, shape] of expected) {
    const tensor = tensors.get(key);
    if (!tensor) missing.push(key);
    else if (!sameShape(tensor.shape, shape)) {
      wrongShape.push({ key, checkpoint: tensor.shape, model: shape });
    } else if (!FLOAT_DTYPES.includes(tensor.dtype)) wrongDtype.push({ key, dtype: tensor.dtype });
  }
  const unexpected = [...tensors.keys()].filter((key) => !expected.has(key) && !isIgnoredKey(key));
  return { missing, unexpected, wrongShape, wrongDtype };
}

/** True when nothing is wrong. */
export function fits(mismatch: StateDictMismatch): boolean {
  return mismatch.missing.length + mismatch.unexpected.length + mismatch.wrongShape.length +
      mismatch.wrongDtype.length === 0;
}

/** How well a checkpoint matches a layout: keys that fit, less keys it does not use. */
export function matchScore(mismatch: StateDictMismatch, expectedCount: number): number {
  const fitting = expectedCount - mismatch.missing.length - mismatch.wrongShape.length -
    mismatch.wrongDtype.length;
  return fitting - mismatch.unexpected.length;
}

const SHOWN = 4;

const plural = (noun: string) => noun.endsWith("h") ? `${noun}es` : `${noun}s`;

function listed<T>(items: readonly T[], noun: string, show: (item: T) => string): string {
  if (items.length === 0) return "";
  const shown = items.slice(0, SHOWN).map(show).join(", ");
  const more = items.length > SHOWN ? `, ... ${items.length - SHOWN} more` : "";
  return `${items.length} ${items.length === 1 ? noun : plural(noun)} (${shown}${more})`;
}

/** One line: counts and the first few keys of each kind of problem. */
export function describeMismatch(mismatch: StateDictMismatch): string {
  const shape = (dims: readonly number[]) => `[${dims.join(", ")}]`;
  return [
    listed(mismatch.missing, "missing key", (key) => key),
    listed(mismatch.unexpected, "unexpected key", (key) => key),
    listed(
      mismatch.wrongShape,
      "shape mismatch",
      ({ key, checkpoint, model }) =>
        `${key}: checkpoint ${shape(checkpoint)}, model ${shape(model)}`,
    ),
    listed(mismatch.wrongDtype, "non-float tensor", ({ key, dtype }) => `${key}: ${dtype}`),
  ].filter((part) => part !== "").join("; ");
}
