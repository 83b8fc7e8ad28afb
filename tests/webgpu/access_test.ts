/**
 * The access algebra behind every folded permute: random chains of reshapes,
 * transposes and broadcasts, applied to accesses, must address the elements
 * the reference semantics move, and moving back through a chain must invert
 * it. No GPU needed.
 */
import assert from "node:assert/strict";
import { makeInput, makeNode, type Node, OPS, seededRandom, sizeOf } from "../../ir/mod.ts";
import {
  type Access,
  accessShape,
  backThrough,
  broadcastAccess,
  contiguous,
  forwardThrough,
  isContiguous,
  offsetOf,
  simplifyAccess,
} from "../../backends/webgpu/access.ts";

function factors(n: number, random: () => number): number[] {
  const out: number[] = [];
  let rest = n;
  for (let f = 2; f <= rest; f++) {
    while (rest % f === 0 && random() < 0.7) {
      out.push(f);
      rest /= f;
    }
  }
  if (rest > 1) out.push(rest);
  return out.length > 0 ? out : [1];
}

function randomChain(random: () => number): { input: Node; chain: Node[] } {
  const shape = factors([24, 36, 60, 64, 90][Math.floor(random() * 5)], random);
  const input = makeInput("x", shape);
  const chain: Node[] = [];
  let current: Node = input;
  for (let step = 0; step < 5; step++) {
    const dims: readonly number[] = current.type.shape;
    if (random() < 0.5) {
      const perm = dims.map((_, i) => i).sort(() => random() - 0.5);
      current = makeNode("transpose", [current], { perm });
    } else {
      current = makeNode("reshape", [current], { shape: factors(sizeOf(dims), random) });
    }
    chain.push(current);
  }
  return { input, chain };
}

/** Element i of the chain's result: which input element it is, by the reference semantics. */
function reference(input: Node, chain: Node[]): Float64Array {
  let data: Float64Array = Float64Array.from({ length: sizeOf(input.type.shape) }, (_, i) => i);
  let shape = input.type.shape;
  for (const node of chain) {
    data = OPS[node.op].evaluate(node.attrs as never, [{ shape, data }], node.type.shape);
    shape = node.type.shape;
  }
  return data;
}

function offsets(access: Access): number[] {
  return Array.from({ length: sizeOf(accessShape(access)) }, (_, i) => offsetOf(access, i));
}

Deno.test("random reshape/transpose chains address the elements the reference moves", () => {
  const random = seededRandom(42);
  let stacked = 0;
  for (let trial = 0; trial < 300; trial++) {
    const { input, chain } = randomChain(random);
    const access = forwardThrough(chain, contiguous(input.type.shape));
    if (access.layers.length > 1) stacked++;
    assert.deepEqual(accessShape(access), [...chain[chain.length - 1].type.shape]);
    assert.deepEqual(offsets(access), [...reference(input, chain)], `trial ${trial}`);
    assert.deepEqual(offsets(simplifyAccess(access)), offsets(access));
    // Back through the chain from the result's own layout is the inverse permutation.
    const end = chain[chain.length - 1];
    const back = backThrough(chain, contiguous(end.type.shape));
    const forward = reference(input, chain);
    const inverse = new Array<number>(forward.length);
    forward.forEach((source, i) => (inverse[source] = i));
    assert.deepEqual(offsets(back), inverse, `trial ${trial} backwards`);
    const roundTrip = forwardThrough(chain, back);
    assert.deepEqual(offsets(roundTrip), Array.from(forward, (_, i) => i));
    if (roundTrip.layers.length === 1) assert.equal(isContiguous(roundTrip), true);
  }
  assert.ok(stacked > 5, `only ${stacked} chains needed a second layer`);
});

Deno.test("broadcasting reads stride 0 along stretched axes", () => {
  const access = broadcastAccess(contiguous([3, 1]), [2, 3, 4]);
  assert.deepEqual(offsets(access), [
    0,
    0,
    0,
    0,
    1,
    1,
    1,
    1,
    2,
    2,
    2,
    2,
    0,
    0,
    0,
    0,
    1,
    1,
    1,
    1,
    2,
    2,
    2,
    2,
  ]);
  assert.equal(isContiguous(access), false);
  assert.equal(isContiguous(contiguous([2, 1, 5])), true);
});
