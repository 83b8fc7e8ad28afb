/**
 * The state_dict an architecture layout expects: every weight its builder
 * asks for, by key, with its shape. Found by building the graph once with a
 * source that records each request and answers with a view of one shared
 * zero buffer, so that even RepMLPNet-L256 costs no weight memory to describe.
 */
import { sizeOf } from "../ir/mod.ts";
import type { ArchLayout } from "./types.ts";

let zeros = new Float32Array(0);

function zeroView(length: number): Float32Array {
  if (zeros.length < length) zeros = new Float32Array(length);
  return zeros.subarray(0, length);
}

/** Key -> shape of every tensor the layout's builder takes, in the order it asks for them. */
export function expectedTensors(layout: ArchLayout): Map<string, readonly number[]> {
  const expected = new Map<string, readonly number[]>();
  layout.build({
    batch: 1,
    weights: (name, shape) => {
      expected.set(name, [...shape]);
      return zeroView(sizeOf(shape));
    },
  });
  return expected;
}

/** Elements of every expected tensor together (the parameter count, BN statistics included). */
export function parameterCount(expected: ReadonlyMap<string, readonly number[]>): number {
  let total = 0;
  for (const shape of expected.values()) total += sizeOf(shape);
  return total;
}
