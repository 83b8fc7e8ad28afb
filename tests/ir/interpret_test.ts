// Reference semantics against values computed by hand.
import assert from "node:assert/strict";
import { erf, GraphBuilder, interpret, type Node } from "../../ir/mod.ts";

const f32 = (values: number[]) => Float32Array.from(values);

/** Runs a one-input graph built by `body` on `input`. */
function run(shape: number[], input: number[], body: (b: GraphBuilder, x: Node) => Node): number[] {
  const b = new GraphBuilder("t");
  b.output("y", body(b, b.input("x", shape)));
  return [...interpret(b.build(), { x: f32(input) }).y];
}

const grid3 = [1, 2, 3, 4, 5, 6, 7, 8, 9];

Deno.test("conv2d: plain 2x2 kernel", () => {
  const y = run(
    [1, 1, 3, 3],
    grid3,
    (b, x) => b.conv2d(x, b.weight("k", [1, 1, 2, 2], f32([1, 1, 1, 1]))),
  );
  assert.deepEqual(y, [12, 16, 24, 28]);
});

Deno.test("conv2d: padded and strided", () => {
  const y = run(
    [1, 1, 3, 3],
    grid3,
    (b, x) =>
      b.conv2d(x, b.weight("k", [1, 1, 2, 2], f32([1, 1, 1, 1])), undefined, {
        padding: 1,
        stride: 2,
      }),
  );
  assert.deepEqual(y, [1, 5, 11, 28]);
});

Deno.test("conv2d: asymmetric padding, bias", () => {
  const y = run(
    [1, 1, 1, 3],
    [1, 2, 3],
    (b, x) =>
      b.conv2d(x, b.weight("k", [1, 1, 1, 2], f32([1, 10])), b.weight("b", [1], f32([100])), {
        pads: [0, 1, 0, 0],
      }),
  );
  assert.deepEqual(y, [110, 121, 132]);
});

Deno.test("conv2d: grouped", () => {
  // Group 0 sees channel 0 only, group 1 channel 1 only.
  const y = run(
    [1, 2, 1, 1],
    [2, 3],
    (b, x) => b.conv2d(x, b.weight("k", [2, 1, 1, 1], f32([10, 100])), undefined, { groups: 2 }),
  );
  assert.deepEqual(y, [20, 300]);
});

Deno.test("conv2d: dilated", () => {
  const y = run(
    [1, 1, 1, 5],
    [1, 2, 3, 4, 5],
    (b, x) => b.conv2d(x, b.weight("k", [1, 1, 1, 2], f32([1, 1])), undefined, { dilation: 2 }),
  );
  assert.deepEqual(y, [4, 6, 8]);
});

Deno.test("batchnorm: (x - mean) / sqrt(var + eps) * gamma + beta per channel", () => {
  const y = run([1, 2, 1, 2], [5, 7, 1, 3], (b, x) =>
    b.batchnorm(x, {
      gamma: b.weight("g", [2], f32([2, 1])),
      beta: b.weight("b", [2], f32([1, -1])),
      mean: b.weight("m", [2], f32([1, 0])),
      variance: b.weight("v", [2], f32([3.5, 15.5])),
    }, { epsilon: 0.5 }));
  assert.deepEqual(y, [5, 7, 1 / 4 - 1, 3 / 4 - 1]);
});

Deno.test("gelu and erf in float64", () => {
  const y = run([3], [1, -1, 0], (b, x) => b.gelu(x));
  assert.ok(Math.abs(y[0] - 0.8413447460685429) < 1e-15);
  assert.ok(Math.abs(y[1] + 0.15865525393145707) < 1e-15);
  assert.equal(y[2], 0);
  assert.ok(Math.abs(erf(0.5) - 0.5204998778130465) < 1e-15);
  assert.ok(Math.abs(erf(-2.5) + 0.999593047982555) < 1e-15);
  assert.equal(erf(7), 1);
});

Deno.test("avgpool counts padding per countIncludePad; maxpool ignores it", () => {
  const input = [1, 2, 3, 4];
  const included = run([1, 1, 2, 2], input, (b, x) => b.avgpool(x, 2, { stride: 1, padding: 1 }));
  assert.deepEqual(included, [0.25, 0.75, 0.5, 1, 2.5, 1.5, 0.75, 1.75, 1]);
  const excluded = run(
    [1, 1, 2, 2],
    input,
    (b, x) => b.avgpool(x, 2, { stride: 1, padding: 1, countIncludePad: false }),
  );
  assert.deepEqual(excluded, [1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4]);
  const max = run(
    [1, 1, 2, 2],
    [-1, -5, -3, -2],
    (b, x) => b.maxpool(x, 2, { stride: 1, padding: 1 }),
  );
  assert.deepEqual(max, [-1, -1, -5, -1, -1, -2, -3, -2, -2]);
  assert.deepEqual(run([1, 2, 1, 2], [1, 2, 3, 5], (b, x) => b.globalAvgpool(x)), [1.5, 4]);
});

Deno.test("linear: grouped, block-diagonal", () => {
  const y = run(
    [1, 4],
    [1, 2, 3, 4],
    (b, x) =>
      b.linear(x, b.weight("w", [2, 2], f32([1, 1, 1, -1])), b.weight("b", [2], f32([10, 20])), {
        groups: 2,
      }),
  );
  assert.deepEqual(y, [13, 19]);
});

Deno.test("movement: transpose, reshape, concat, broadcasting", () => {
  assert.deepEqual(run([2, 3], [1, 2, 3, 4, 5, 6], (b, x) => b.transpose(x, [1, 0])), [
    1,
    4,
    2,
    5,
    3,
    6,
  ]);
  assert.deepEqual(
    run([1, 2], [1, 2], (b, x) => b.concat([x, b.weight("c", [1, 1], f32([9]))], 1)),
    [1, 2, 9],
  );
  assert.deepEqual(
    run([2, 1], [1, 2], (b, x) => b.mul(x, b.weight("c", [3], f32([1, 10, 100])))),
    [1, 10, 100, 2, 20, 200],
  );
  assert.deepEqual(run([2], [1, -2], (b, x) => b.sub(b.relu(x), b.weight("c", [1], f32([1])))), [
    0,
    -1,
  ]);
});
