// f16 conversion (ir/half.ts): every one of the 65536 bit patterns, every rounding boundary
// between neighbouring halves, and random f32 values, checked against the engine's own
// Float16Array and Math.f16round (V8's implementations, independent of refold's).
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeHalves,
  encodeHalves,
  F16_MAX,
  fromHalf,
  roundToHalf,
  toHalf,
} from "../../ir/mod.ts";

const oracleValues = new Float16Array(new Uint16Array(65536).map((_, i) => i).buffer);
const isNaNPattern = (bits: number) => (bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0;

Deno.test("fromHalf reads all 65536 patterns as Float16Array does, -0 and NaN included", () => {
  for (let bits = 0; bits < 65536; bits++) {
    const expected = oracleValues[bits];
    const actual = fromHalf(bits);
    if (Number.isNaN(expected)) assert.ok(Number.isNaN(actual), `0x${bits.toString(16)}`);
    else assert.ok(Object.is(actual, expected), `0x${bits.toString(16)}: ${actual} != ${expected}`);
  }
});

Deno.test("toHalf(fromHalf(bits)) is bits for every non-NaN pattern; NaN stays NaN", () => {
  for (let bits = 0; bits < 65536; bits++) {
    const back = toHalf(fromHalf(bits));
    if (isNaNPattern(bits)) assert.ok(isNaNPattern(back), `0x${bits.toString(16)}`);
    else assert.equal(back, bits, `0x${bits.toString(16)}`);
  }
  assert.deepEqual(
    [...decodeHalves(encodeHalves(oracleValues))].map(String),
    [
      ...oracleValues,
    ].map(String),
  );
});

Deno.test("rounding at every boundary between neighbouring halves: ties to even, else nearest", () => {
  // The midpoint of two neighbouring halves needs 12 significant bits: an f32 holds it exactly,
  // and the f32 values just below and above it must round down and up.
  const below = new Float32Array(1), above = new Float32Array(1);
  const bitsOf = new Uint32Array(below.buffer), bitsAbove = new Uint32Array(above.buffer);
  // (Above 0x7bff lies infinity, checked below.)
  for (let bits = 0; bits < 0x7bff; bits++) {
    for (const sign of [0, 0x8000]) {
      const low = fromHalf(sign | bits), high = fromHalf(sign | (bits + 1));
      const middle = (low + high) / 2;
      assert.equal(Math.fround(middle), middle);
      const even = (bits & 1) === 0 ? bits : bits + 1;
      assert.equal(toHalf(middle), sign | even, `tie between 0x${bits.toString(16)} and next`);
      below[0] = middle;
      above[0] = middle;
      // One f32 ulp towards zero and away from it (the sign bit does not change the magnitude).
      bitsOf[0] -= 1;
      bitsAbove[0] += 1;
      assert.equal(toHalf(below[0]), sign | bits);
      assert.equal(toHalf(above[0]), sign | (bits + 1));
    }
  }
});

Deno.test("subnormals, overflow, zeros and infinities", () => {
  assert.equal(toHalf(2 ** -24), 0x0001);
  assert.equal(toHalf(2 ** -25), 0x0000); // tie between 0 and the smallest subnormal: even is 0
  assert.equal(toHalf(1.5 * 2 ** -25), 0x0001);
  assert.equal(toHalf(3 * 2 ** -25), 0x0002); // tie between 1 and 2 units: even
  assert.equal(toHalf(2 ** -14 - 2 ** -25), 0x0400); // rounds up into the smallest normal
  assert.equal(toHalf(1e-30), 0x0000);
  assert.equal(toHalf(-1e-30), 0x8000);
  assert.equal(toHalf(-0), 0x8000);
  assert.equal(toHalf(F16_MAX), 0x7bff);
  assert.equal(toHalf(65519.99), 0x7bff);
  assert.equal(toHalf(65520), 0x7c00); // the tie above F16_MAX goes to infinity
  assert.equal(toHalf(-1e9), 0xfc00);
  assert.equal(toHalf(Infinity), 0x7c00);
  assert.equal(toHalf(-Infinity), 0xfc00);
  assert.ok(isNaNPattern(toHalf(NaN)));
  assert.equal(fromHalf(0x3555), 0.333251953125);
  assert.equal(roundToHalf(1 / 3), 0.333251953125);
});

Deno.test("property: toHalf rounds any f32 as Math.f16round does", () => {
  fc.assert(
    fc.property(fc.float({ noNaN: true }), (value) => {
      const rounded = roundToHalf(value);
      assert.ok(Object.is(rounded, Math.f16round(value)), `${value}: ${rounded}`);
    }),
    { numRuns: 20000 },
  );
});
