// Views against the reference semantics: any chain of reshapes, transposes and broadcasts
// that a view accepts must address exactly the elements the IR's movement ops move.
import assert from "node:assert/strict";
import fc from "fast-check";
import { broadcastShapes, OPS, sizeOf } from "../../ir/mod.ts";
import {
  broadcastView,
  contiguous,
  normalizeDims,
  partsOf,
  reshapeView,
  splitDims,
  tableOffsets,
  transposeView,
  type View,
} from "../../backends/wasm/views.ts";

function offsetsOf(view: View): number[] {
  return [...tableOffsets(view.dims)].map((offset) => offset + view.offset);
}

const shapeArb = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 });
const stepArb = fc.oneof(
  fc.record({ kind: fc.constant("reshape" as const), seed: fc.nat() }),
  fc.record({ kind: fc.constant("transpose" as const), seed: fc.nat() }),
);

/** A shape of `size` elements drawn from `seed`. */
function factorize(size: number, seed: number): number[] {
  const dims: number[] = [];
  let rest = size, s = seed;
  for (let d = 2; d <= rest; d++) {
    while (rest % d === 0) {
      if (s % 2 === 0 || dims.length === 0) dims.push(d);
      else dims[dims.length - 1] *= d;
      rest /= d;
      s = Math.floor(s / 2) + 7;
    }
  }
  return dims.length ? dims : [1];
}

function permutation(rank: number, seed: number): number[] {
  const perm = [...Array(rank).keys()];
  for (let i = rank - 1, s = seed; i > 0; i--, s = Math.floor(s / 3) + 11) {
    const j = s % (i + 1);
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  return perm;
}

Deno.test("views: reshape/transpose chains address what the reference moves", () => {
  let checked = 0;
  fc.assert(
    fc.property(shapeArb, fc.array(stepArb, { maxLength: 5 }), (shape, steps) => {
      let data: Float64Array = Float64Array.from({ length: sizeOf(shape) }, (_, i) => i);
      let current = [...shape];
      let view: View | undefined = contiguous(shape);
      for (const step of steps) {
        if (step.kind === "reshape") {
          current = factorize(sizeOf(current), step.seed);
          view = view && reshapeView(view, current);
        } else {
          const perm = permutation(current.length, step.seed);
          const out = perm.map((axis) => current[axis]);
          data = OPS.transpose.evaluate({ perm }, [{ shape: current, data }], out);
          current = out;
          view = view && transposeView(view, perm);
        }
      }
      if (view && steps.some((step) => step.kind === "transpose")) checked++;
      if (view) assert.deepEqual(offsetsOf(view), [...data]);
    }),
    { numRuns: 300, seed: 5 },
  );
  assert.ok(checked > 100, `only ${checked} chains with a transpose were expressible`);
});

Deno.test("views: broadcasting reads stretched axes with stride 0", () => {
  const view = broadcastView(contiguous([3, 1]), [2, 3, 4])!;
  assert.deepEqual(broadcastShapes([3, 1], [2, 3, 4]), [2, 3, 4]);
  assert.deepEqual(offsetsOf(view), Array.from({ length: 24 }, (_, i) => Math.floor(i / 4) % 3));
});

Deno.test("views: splits fail exactly where a run cannot be cut", () => {
  // 6 elements as runs (2 x 100) (3 x 1): [3, 2] cannot be cut out of them.
  const dims = [{ size: 2, stride: 100 }, { size: 3, stride: 1 }];
  assert.equal(splitDims(dims, [3, 2]), undefined);
  assert.deepEqual(splitDims(dims, [2, 3]), [[{ size: 2, stride: 100 }], [{ size: 3, stride: 1 }]]);
  assert.deepEqual(
    normalizeDims([{ size: 2, stride: 3 }, { size: 3, stride: 1 }, { size: 1, stride: 9 }]),
    [
      { size: 6, stride: 1 },
    ],
  );
});

Deno.test("views: the RepMLP partition splits into a row table and a feature table", () => {
  // x (1, 2, 4, 4) -> (1, 2, 2, 2, 2, 2) -> partition -> (4, 8).
  const parted = transposeView(reshapeView(contiguous([1, 2, 4, 4]), [1, 2, 2, 2, 2, 2]), [
    0,
    2,
    4,
    1,
    3,
    5,
  ])!;
  const [rows, features] = partsOf(reshapeView(parted, [4, 8]), [4, 8])!;
  assert.equal(rows.kind, "table");
  assert.equal(features.kind, "table");
  if (rows.kind === "table") assert.deepEqual([...tableOffsets(rows.dims)], [0, 2, 8, 10]);
  if (features.kind === "table") {
    assert.deepEqual([...tableOffsets(features.dims)], [0, 1, 4, 5, 16, 17, 20, 21]);
  }
});
