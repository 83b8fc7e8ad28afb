// Narrow weight files (backends/weight_file.ts, backends/runtime/weight_codec.ts): the decoder
// gives back exactly what ir/quantize.ts says each region reads back as, on random layouts and
// on misaligned bytes, int8 stored by columns included; the modules of the js and wasm targets
// (webgpu: tests/webgpu/) load narrow
// files (embedded and beside model.js) and compute what the graph with those weights computes.
import assert from "node:assert/strict";
import fc from "fast-check";
import { jsBackend } from "../../backends/js/mod.ts";
import { decodeWeightFile } from "../../backends/runtime/weight_codec.ts";
import { wasmBackend } from "../../backends/wasm/mod.ts";
import { encodeWeightFile, type StoredRegion } from "../../backends/weight_file.ts";
import { roundTrip, uniform, type WeightDType } from "../../ir/mod.ts";
import { checkModule } from "./_weight_module.ts";

/** Random regions over `floats` values, with gaps of zeros between them. */
const layouts = fc.array(
  fc.record({
    gap: fc.integer({ min: 0, max: 5 }),
    dtype: fc.constantFrom<WeightDType>("f32", "f16", "int8"),
    rows: fc.integer({ min: 1, max: 4 }),
    width: fc.integer({ min: 1, max: 9 }),
  }),
  { maxLength: 6 },
);

Deno.test("property: a decoded file holds what each region's dtype reads back as, zeros between", () => {
  fc.assert(
    fc.property(layouts, fc.integer({ min: 0, max: 3 }), fc.nat(), (parts, tail, seed) => {
      const regions: StoredRegion[] = [];
      let at = 0;
      for (const { gap, dtype, rows, width } of parts) {
        at += gap;
        regions.push({ at, length: rows * width, dtype, rows });
        at += rows * width;
      }
      const values = new Float32Array(at + tail);
      const expected = new Float32Array(values.length);
      regions.forEach((region, i) => {
        const data = uniform(region.length, seed + i, -3, 3);
        values.set(data, region.at);
        expected.set(roundTrip(data, region.dtype, region.rows), region.at);
      });
      const { bytes, encoding } = encodeWeightFile(values, regions);
      assert.equal(bytes.byteLength, encoding.bytes);
      assert.ok(encoding.segments.every((segment) => segment.offset % 4 === 0));
      const decoded = decodeWeightFile(bytes, encoding);
      assert.deepEqual(new Float32Array(decoded.buffer), expected);
      // Bytes handed to load() may start at any offset.
      const shifted = new Uint8Array(bytes.byteLength + 1).subarray(1);
      shifted.set(bytes);
      assert.deepEqual(decodeWeightFile(shifted, encoding), decoded);
    }),
  );
});

Deno.test("int8 stored as blocks of [k][columns]: each column keeps its own channel's scale", () => {
  // 2 blocks of [k = 3][columns = 4]: channels 0..7, channel c's values c * (1, 2, 3) / 10.
  const rows = 8, k = 3, columns = 4;
  const rowMajor = Float32Array.from({ length: rows * k }, (_, i) => {
    const channel = Math.floor(i / k);
    return ((channel + 1) * ((i % k) + 1)) / 10 * (channel % 2 ? -1 : 1);
  });
  const blocked = new Float32Array(rows * k);
  for (let c = 0; c < rows; c++) {
    for (let i = 0; i < k; i++) {
      blocked[Math.floor(c / columns) * k * columns + i * columns + (c % columns)] =
        rowMajor[c * k + i];
    }
  }
  const { bytes, encoding } = encodeWeightFile(blocked, [
    { at: 0, length: rows * k, dtype: "int8", rows, columns },
  ]);
  const decoded = new Float32Array(decodeWeightFile(bytes, encoding).buffer);
  const expected = roundTrip(rowMajor, "int8", rows);
  for (let c = 0; c < rows; c++) {
    for (let i = 0; i < k; i++) {
      assert.equal(
        decoded[Math.floor(c / columns) * k * columns + i * columns + (c % columns)],
        expected[c * k + i],
      );
    }
  }
  // Every channel's largest magnitude is restored (scale per channel, not per stored row).
  assert.ok(decoded.some((v) => Math.abs(Math.abs(v) - 2.4) < 1e-6));
  assert.ok(decoded.some((v) => Math.abs(Math.abs(v) - 0.3) < 1e-6));
});

Deno.test("a file of the wrong size, and values outside every region, are refused", () => {
  const values = Float32Array.of(1, 2, 3, 4);
  const { bytes, encoding } = encodeWeightFile(values, [
    { at: 0, length: 4, dtype: "int8", rows: 2 },
  ]);
  assert.equal(bytes.byteLength, 2 * 4 + 4);
  assert.throws(
    () => decodeWeightFile(bytes.subarray(1), encoding),
    /weights hold 11 bytes, this model needs 12/,
  );
  assert.throws(
    () => encodeWeightFile(values, [{ at: 0, length: 3, dtype: "f16", rows: 1 }]),
    /internal: weight value 3 lies outside every stored region/,
  );
  assert.throws(
    () => encodeWeightFile(Float32Array.of(1e5), [{ at: 0, length: 1, dtype: "f16", rows: 1 }]),
    /--weight-dtype f16: a weight value of 100000 is beyond f16's range/,
  );
});

for (const weightDType of ["f16", "int8"] as const) {
  for (const inlineWeightLimit of [0, 1 << 20]) {
    const where = inlineWeightLimit ? "embedded" : "in weights.bin";
    Deno.test(`js target, ${weightDType} weights ${where}: the stored weights' outputs`, async () => {
      const result = await checkModule(jsBackend, { weightDType, inlineWeightLimit });
      const file = result.files.find((f) => f.path === "weights.bin");
      assert.equal(file === undefined, inlineWeightLimit > 0);
      const report = result.weights!;
      if (file) assert.equal(file.contents.length, report.bytes);
      assert.deepEqual(report.dtypes, weightDType === "int8" ? ["int8", "f32"] : ["f16"]);
      assert.ok(report.bytes < report.f32Bytes / (weightDType === "int8" ? 2.5 : 1.9));
    });
  }
}

for (const weightDType of ["f16", "int8"] as const) {
  Deno.test(`wasm target, ${weightDType} weights in weights.bin and embedded: the stored weights' outputs`, async () => {
    for (const inlineWeightLimit of [0, 1 << 20]) {
      const result = await checkModule(wasmBackend, { weightDType, inlineWeightLimit });
      const report = result.weights!;
      assert.deepEqual(report.dtypes, weightDType === "int8" ? ["int8", "f32"] : ["f16"]);
      const file = result.files.find((f) => f.path === "weights.bin");
      if (file) assert.equal(file.contents.length, report.bytes);
      assert.ok(report.bytes < report.f32Bytes / (weightDType === "int8" ? 2.5 : 1.9));
    }
  });
}
