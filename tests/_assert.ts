/** Numeric assertions shared by the equivalence and backend tests. */
import { AssertionError } from "node:assert";

/** Max absolute difference, and max|a-b| / max|expected|. */
export function compareArrays(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
): { maxAbs: number; relative: number } {
  if (actual.length !== expected.length) {
    throw new AssertionError({
      message: `length ${actual.length} differs from expected ${expected.length}`,
    });
  }
  let maxAbs = 0, scale = 0;
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    if (!(diff <= maxAbs)) maxAbs = Number.isNaN(diff) ? Infinity : diff;
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return { maxAbs, relative: scale === 0 ? maxAbs : maxAbs / scale };
}

/** Fails unless max|actual - expected| / max|expected| <= tolerance. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: number,
  what = "values",
): void {
  const { maxAbs, relative } = compareArrays(actual, expected);
  if (!(relative <= tolerance)) {
    throw new AssertionError({
      message: `${what}: relative error ${relative.toExponential(2)} (max abs ${
        maxAbs.toExponential(2)
      }) exceeds ${tolerance}`,
    });
  }
}
