// Int8 per-output-channel quantization (ir/quantize.ts) and the storage rule of
// --weight-dtype (ir/weight_storage.ts): exact scales on constructed rows, the error bound
// on random ones, and which weights of a graph count as kernels with how many channels.
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  dequantizeRows,
  GraphBuilder,
  INT8_MAX,
  kernelChannels,
  planWeightStorage,
  quantizeRows,
  roundHalfEven,
  roundTrip,
  rowError,
  uniform,
  worstStorageError,
} from "../../ir/mod.ts";

Deno.test("rows whose largest magnitude is 127 * 2^k have scale 2^k and store integers exactly", () => {
  const data = Float32Array.of(
    ...[127, -3, 0, 5, 64, -127].map((v) => v * 2 ** -3), // row 0: scale 2^-3
    ...[-127, 1, 2, 3, 4, 5].map((v) => v * 2 ** 4), // row 1: scale 16, max is negative
    0,
    0,
    0,
    0,
    0,
    0, // row 2: all zero
  );
  const { values, scales } = quantizeRows(data, 3);
  assert.deepEqual([...scales], [2 ** -3, 16, 0]);
  assert.deepEqual([...values], [127, -3, 0, 5, 64, -127, -127, 1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(dequantizeRows({ values, scales }), data);
  assert.deepEqual(rowError(data, dequantizeRows({ values, scales }), 3), { error: 0, row: 0 });
});

Deno.test("values halfway between two steps round to the even step, symmetrically", () => {
  const { values } = quantizeRows(Float32Array.of(127, 2.5, -2.5, 3.5, -3.5, 0.5, -0.5), 1);
  assert.deepEqual([...values], [127, 2, -2, 4, -4, 0, 0]);
  assert.deepEqual([0.5, 1.5, -1.5, 2.5, -0.5, 2.4, -2.6].map(roundHalfEven), [
    0,
    2,
    -2,
    2,
    0,
    2,
    -3,
  ]);
});

Deno.test("the scale is the row's largest magnitude / 127 in f32, and that value maps to ±127", () => {
  const data = Float32Array.of(0.3, -1.1, 0.05, 0.7, 2.2, -0.01);
  const { values, scales } = quantizeRows(data, 2);
  assert.deepEqual([...scales], [Math.fround(1.1 / 127), Math.fround(2.2 / 127)].map(Math.fround));
  assert.equal(values[1], -127);
  assert.equal(values[4], 127);
  const restored = roundTrip(data, "int8", 2);
  // In steps of the row's scale, row 0 misses 0.3 by 0.364 (34.636 -> 35) and 0.05 by 0.227;
  // row 1 misses 0.7 by 0.409 (40.409 -> 40) and -0.01 by 0.423 (-0.577 -> -1), the worst.
  const { error, row } = rowError(data, restored, 2);
  assert.equal(row, 1);
  assert.ok(Math.abs(error - (1 - (0.01 * 127) / 2.2) / 127) < 1e-6 / 127, `${error * 127}`);
});

Deno.test("property: every int8 value is within half a step of its row's scale (1/254 relative)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: -30, max: 30 }),
      fc.integer(),
      (rows, width, exponent, seed) => {
        const data = uniform(rows * width, seed >>> 0, -(2 ** exponent), 2 ** exponent);
        const quantized = quantizeRows(data, rows);
        const restored = dequantizeRows(quantized);
        for (let i = 0; i < data.length; i++) {
          const scale = quantized.scales[Math.floor(i / width)];
          assert.ok(Math.abs(quantized.values[i]) <= INT8_MAX);
          // Half a step, plus the f32 rounding of q * scale.
          const bound = scale / 2 + Math.abs(restored[i]) * 2 ** -24;
          assert.ok(Math.abs(data[i] - restored[i]) <= bound, `${data[i]} -> ${restored[i]}`);
        }
        assert.ok(rowError(data, restored, rows).error <= (0.5 / INT8_MAX) * (1 + 2 ** -20));
      },
    ),
  );
});

Deno.test("f16 storage: the error is relative to each row's largest magnitude", () => {
  const data = Float32Array.of(1, 1 + 2 ** -12, 2 ** -10, 1e-9);
  const restored = roundTrip(data, "f16", 2);
  // Halves step by 2^-10 near 1: 1 + 2^-12 reads back as 1, an error of 2^-12 in row 0.
  // 1e-9 underflows to 0: an error of 1e-9 / 2^-10, about 1e-6, in row 1.
  assert.equal(restored[1], 1);
  assert.equal(restored[3], 0);
  const { error, row } = rowError(data, restored, 2);
  assert.equal(row, 0);
  assert.equal(error, 2 ** -12 / (1 + 2 ** -12)); // relative to the largest, 1 + 2^-12
  assert.ok(rowError(data.subarray(2), restored.subarray(2), 1).error > 1e-6);
  assert.equal(rowError([1, 2], [1, NaN], 1).error, Infinity);
});

function sampleGraph() {
  const b = new GraphBuilder("kernels");
  const x = b.input("x", [2, 4, 6, 6]);
  const k = b.weight("conv.k", [6, 2, 3, 3], uniform(108, 1));
  const bias = b.weight("conv.b", [6], uniform(6, 2));
  const conv = b.conv2d(x, k, bias, { groups: 2, padding: 1 });
  const flat = b.reshape(conv, [2, 216]);
  const fc = b.weight("fc.w", [8, 36], uniform(288, 3));
  // A weight that is also read elsewhere is no kernel, even where it is a bias.
  const shared = b.weight("shared", [8], uniform(8, 4));
  const y = b.linear(b.reshape(flat, [6, 72]), fc, shared, { groups: 2 });
  b.output("y", b.add(y, b.reshape(shared, [1, 8])));
  return b.build();
}

Deno.test("kernels: weights read only as linear or conv2d kernels, with their first dim", () => {
  const kernels = kernelChannels(sampleGraph());
  assert.deepEqual(
    [...kernels].map(([node, channels]) => [node.attrs.name, channels]),
    [["conv.k", 6], ["fc.w", 8]],
  );
});

Deno.test("the storage rule: int8 narrows kernels only, f16 everything; the worst error names its weight", () => {
  const graph = sampleGraph();
  const int8 = planWeightStorage(graph, "int8");
  assert.deepEqual(
    [...int8].map(([node, s]) => `${node.attrs.name}:${s.dtype}/${s.channels}`).sort(),
    ["conv.b:f32/1", "conv.k:int8/6", "fc.w:int8/8", "shared:f32/1"],
  );
  const f16 = planWeightStorage(graph, "f16");
  assert.ok([...f16.values()].every((s) => s.dtype === "f16"));
  const worst = worstStorageError(int8);
  const expected = Math.max(
    ...[...int8].filter(([, s]) => s.dtype === "int8").map(([node, s]) =>
      rowError(node.data!, roundTrip(node.data!, "int8", s.channels), s.channels).error
    ),
  );
  assert.equal(worst.error, expected);
  assert.ok(worst.error > 0 && worst.error <= 0.5 / 127);
  assert.ok(worstStorageError(f16).error <= 2 ** -11);
  assert.deepEqual(worstStorageError(planWeightStorage(graph, "f32")).error, 0);
});

Deno.test("f16 refuses a weight beyond its range, naming the weight and the value", () => {
  const b = new GraphBuilder("big");
  const x = b.input("x", [1, 2]);
  b.output("y", b.linear(x, b.weight("huge", [1, 2], Float32Array.of(1, -70000))));
  assert.throws(
    () => planWeightStorage(b.build(), "f16"),
    /--weight-dtype f16: weight "huge" holds -70000\.0 \(flat index 1\), beyond f16's range/,
  );
  assert.equal(planWeightStorage(b.build(), "int8").size, 1);
});
