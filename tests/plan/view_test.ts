/**
 * The view algebra behind every folded permute, for every target: random
 * chains of reshapes and transposes must address the elements the reference
 * semantics move, moving back through a chain must invert it, layers must
 * collapse when a later reshape makes the cut unnecessary, and peeling (the
 * materialize answer) must read the same elements through a copy.
 */
import assert from "node:assert/strict";
import { makeInput, makeNode, type Node, OPS, seededRandom, sizeOf } from "../../ir/mod.ts";
import {
  backThrough,
  broadcastView,
  contiguous,
  forwardThrough,
  groupDims,
  isContiguous,
  normalizeDims,
  offsetOf,
  peel,
  reshapeView,
  simplifyView,
  transposeView,
  type View,
  viewShape,
} from "../../backends/plan/mod.ts";

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

function offsets(view: View): number[] {
  return Array.from({ length: sizeOf(viewShape(view)) }, (_, i) => offsetOf(view, i));
}

/** What a view reads after peeling every layer but the top into row-major copies. */
function throughCopies(view: View): number[] {
  let current = view;
  let buffer: number[] | undefined;
  for (let peeled = peel(current); peeled; peeled = peel(current)) {
    const copied = offsets(peeled.copy).map((offset) => buffer ? buffer[offset] : offset);
    buffer = copied;
    current = peeled.rest;
  }
  return offsets(current).map((offset) => buffer ? buffer[offset] : offset);
}

Deno.test("views: random reshape/transpose chains address the elements the reference moves", () => {
  const random = seededRandom(42);
  let stacked = 0;
  for (let trial = 0; trial < 400; trial++) {
    const { input, chain } = randomChain(random);
    const view = forwardThrough(chain, contiguous(input.type.shape));
    if (view.layers.length > 1) stacked++;
    const expected = [...reference(input, chain)];
    assert.deepEqual(viewShape(view), [...chain[chain.length - 1].type.shape]);
    assert.deepEqual(offsets(view), expected, `trial ${trial}`);
    assert.deepEqual(offsets(simplifyView(view)), expected);
    assert.deepEqual(throughCopies(view), expected, `trial ${trial} peeled`);
    // Back through the chain from the result's own layout is the inverse permutation.
    const end = chain[chain.length - 1];
    const back = backThrough(chain, contiguous(end.type.shape));
    const inverse = new Array<number>(expected.length);
    expected.forEach((source, i) => (inverse[source] = i));
    assert.deepEqual(offsets(back), inverse, `trial ${trial} backwards`);
    const roundTrip = forwardThrough(chain, back);
    assert.deepEqual(offsets(roundTrip), expected.map((_, i) => i));
    if (roundTrip.layers.length === 1) assert.equal(isContiguous(roundTrip), true);
  }
  assert.ok(stacked > 5, `only ${stacked} chains needed a second layer`);
});

Deno.test("views: a reshape that undoes a cut collapses the layers again", () => {
  // [2, 3] transposed is runs (3 x 1)(2 x 3); [2, 3] over it cuts a run: two layers.
  const cut = reshapeView(transposeView(contiguous([2, 3]), [1, 0]), [2, 3]);
  assert.equal(cut.layers.length, 2);
  const back = reshapeView(cut, [3, 2]);
  assert.equal(back.layers.length, 1);
  assert.deepEqual(offsets(back), [0, 3, 1, 4, 2, 5]);
  assert.deepEqual(offsets(reshapeView(cut, [6])), [0, 3, 1, 4, 2, 5]);
  // A slice (offset) on top never merges: it does not cover the layer below.
  assert.equal(peel(contiguous([4])), undefined);
});

Deno.test("views: broadcasting reads stride 0 along stretched axes", () => {
  const view = broadcastView(contiguous([3, 1]), [2, 3, 4]);
  assert.deepEqual(offsets(view), Array.from({ length: 24 }, (_, i) => Math.floor(i / 4) % 3));
  assert.equal(isContiguous(view), false);
  assert.equal(isContiguous(contiguous([2, 1, 5])), true);
});

Deno.test("views: runs are cut exactly where they divide", () => {
  // 6 elements as runs (2 x 100) (3 x 1): [3, 2] cannot be cut out of them.
  const dims = [{ size: 2, stride: 100 }, { size: 3, stride: 1 }];
  assert.equal(groupDims(dims, [3, 2]), undefined);
  assert.deepEqual(groupDims(dims, [2, 3]), [[{ size: 2, stride: 100 }], [{ size: 3, stride: 1 }]]);
  assert.deepEqual(
    normalizeDims([{ size: 2, stride: 3 }, { size: 3, stride: 1 }, { size: 1, stride: 9 }]),
    [{ size: 6, stride: 1 }],
  );
});

Deno.test("views: the RepMLP partition is one layer of row and feature runs", () => {
  // x (1, 2, 4, 4) -> (1, 2, 2, 2, 2, 2) -> partition -> (4, 8).
  const parted = reshapeView(
    transposeView(reshapeView(contiguous([1, 2, 4, 4]), [1, 2, 2, 2, 2, 2]), [0, 2, 4, 1, 3, 5]),
    [4, 8],
  );
  assert.equal(parted.layers.length, 1);
  const [rows, features] = parted.layers[0].axes.map((dims) => normalizeDims(dims));
  assert.deepEqual(rows, [{ size: 2, stride: 8 }, { size: 2, stride: 2 }]);
  assert.deepEqual(features, [{ size: 2, stride: 16 }, { size: 2, stride: 4 }, {
    size: 2,
    stride: 1,
  }]);
});
