/**
 * Helpers for FC weights in PyTorch's [out, in/groups] layout: group
 * arithmetic and re-blocking a grouped weight onto coarser groups.
 */
import type { Node } from "../../ir/mod.ts";
import { constant } from "./_rewrite.ts";

/** Greatest common divisor. */
export function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * The weight of `fc` re-blocked from its own groups onto `groups`, a divisor
 * of them: each row keeps its values, moved to its place in the wider block,
 * and the rest of the wider row is zero. Returns a copy even when nothing moves.
 */
export function regroup(fc: Node<"linear">, groups: number): Float32Array {
  const weight = constant(fc.inputs[1])!;
  const own = fc.attrs.groups;
  if (own === groups) return weight.slice();
  const [n, kOwn] = fc.inputs[1].type.shape;
  const kNew = (kOwn * own) / groups;
  const out = new Float32Array(n * kNew);
  for (let row = 0; row < n; row++) {
    const offset = Math.floor(row / (n / own)) * kOwn - Math.floor(row / (n / groups)) * kNew;
    out.set(weight.subarray(row * kOwn, (row + 1) * kOwn), row * kNew + offset);
  }
  return out;
}

/** True when the FC's weight and bias (if any) are constants. */
export function hasConstantWeights(layer: Node<"linear" | "conv2d">): boolean {
  return constant(layer.inputs[1]) !== undefined &&
    (layer.inputs[2] === undefined || constant(layer.inputs[2]) !== undefined);
}
