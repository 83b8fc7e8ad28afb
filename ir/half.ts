/**
 * IEEE 754 binary16 (f16), defined once for every place that stores or reads
 * half floats: weight files written with `--weight-dtype f16`, WebGPU's f16
 * storage, and the runtime decoders bundled into model.js (so this file
 * imports nothing). Encoding rounds to nearest, ties to even, keeps
 * subnormals, overflows to infinity and keeps NaN a (quiet) NaN; decoding is
 * exact, since every f16 value is an f32 value.
 */

/** The largest finite f16 value; anything at or above 65520 rounds to infinity. */
export const F16_MAX = 65504;

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Shifts `value` right by `shift` bits, rounding to nearest, ties to even. */
function shiftRoundingToEven(value: number, shift: number): number {
  const kept = value >>> shift;
  const rest = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept;
}

/** The f16 bit pattern nearest to `value` (first rounded to f32, as stored weights are). */
export function toHalf(value: number): number {
  scratchF32[0] = value;
  const bits = scratchU32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200);
  // The f16 exponent field of `value`: 1..30 for normal halves.
  const biased = exponent - 127 + 15;
  if (biased >= 0x1f) return sign | 0x7c00;
  if (biased >= 1) {
    // A carry out of the mantissa moves into the exponent, up to infinity: what IEEE wants.
    return sign | shiftRoundingToEven((biased << 23) | mantissa, 13);
  }
  // Subnormal halves are multiples of 2^-24; values below 2^-25 round to zero.
  if (biased < -10) return sign;
  return sign | shiftRoundingToEven(mantissa | 0x800000, 14 - biased);
}

/** The value of an f16 bit pattern. */
export function fromHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

/** f32 values as f16 bit patterns. */
export function encodeHalves(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = toHalf(values[i]);
  return out;
}

let decodeTable: Float32Array | undefined;

/** f16 bit patterns as f32 values (through a 256 KiB table, built on first use). */
export function decodeHalves(halves: Uint16Array): Float32Array {
  if (!decodeTable) {
    decodeTable = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) decodeTable[bits] = fromHalf(bits);
  }
  const out = new Float32Array(halves.length);
  for (let i = 0; i < halves.length; i++) out[i] = decodeTable[halves[i]];
  return out;
}

/** `value` rounded to the nearest f16 value, as an f32. */
export function roundToHalf(value: number): number {
  return fromHalf(toHalf(value));
}
