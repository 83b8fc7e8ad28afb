/**
 * Weight storage narrower than f32, defined once: f16 (see half.ts) and
 * symmetric int8 with one f32 scale per output channel. Every target that
 * stores or computes with narrow weights uses these definitions, and so do
 * the error figures the compile report prints. This file imports nothing
 * above half.ts, so that model.js can bundle the decoders.
 *
 * Per output channel means one scale per row of the weight as the IR holds
 * it: linear's [N, K/groups] has one row per output feature (each row lies
 * inside one group, so no scale spans two groups of a grouped FC), conv2d's
 * [O, C/groups, kh, kw] one row of C/groups*kh*kw taps per output channel.
 * Row r stores q = round_half_even(w / s_r) in [-127, 127] with
 * s_r = max|w_r| / 127 rounded to f32, and reads back q * s_r (one f32
 * rounding, as ONNX DequantizeLinear computes it). The largest magnitude of a
 * row is thus restored to within an f32 rounding, and every value to within
 * s_r / 2: at most 1/254 of the row's largest magnitude.
 */
import { decodeHalves, encodeHalves } from "./half.ts";

/** How weights are stored: f32 as they are, f16, or int8 per output channel. */
export type WeightDType = "f32" | "f16" | "int8";

/** Every weight dtype, for validation and messages. */
export const WEIGHT_DTYPES: readonly WeightDType[] = ["f32", "f16", "int8"];

/** Bytes per stored element (int8 rows add one f32 scale per row). */
export const WEIGHT_DTYPE_BYTES: Readonly<Record<WeightDType, number>> = {
  f32: 4,
  f16: 2,
  int8: 1,
};

/** The largest int8 magnitude used: symmetric, so -128 is never stored. */
export const INT8_MAX = 127;

/** Int8 values, row-major, with one f32 scale per row: value = values[i] * scales[row]. */
export interface Int8Rows {
  readonly values: Int8Array;
  readonly scales: Float32Array;
}

/** Rounds to the nearest integer, ties to even (as ONNX QuantizeLinear rounds). */
export function roundHalfEven(value: number): number {
  const rounded = Math.round(value);
  const even = rounded - value === 0.5 && rounded % 2 !== 0 ? rounded - 1 : rounded;
  // Math.round(-0.4) is -0; an integer has no sign of zero.
  return even === 0 ? 0 : even;
}

function checkRows(length: number, rows: number): number {
  if (!Number.isSafeInteger(rows) || rows < 1 || length % rows !== 0) {
    throw new RangeError(`${length} values do not split into ${rows} equal rows`);
  }
  return length / rows;
}

/** Quantizes `data`, viewed as `rows` equal rows, to symmetric int8 with one scale per row. */
export function quantizeRows(data: ArrayLike<number>, rows: number): Int8Rows {
  const width = checkRows(data.length, rows);
  const values = new Int8Array(data.length);
  const scales = new Float32Array(rows);
  for (let row = 0; row < rows; row++) {
    const start = row * width, end = start + width;
    let largest = 0;
    for (let i = start; i < end; i++) largest = Math.max(largest, Math.abs(data[i]));
    const scale = Math.fround(largest / INT8_MAX);
    scales[row] = scale;
    // An all-zero row (or one too small for an f32 scale) stores zeros.
    if (scale === 0) continue;
    for (let i = start; i < end; i++) {
      const q = roundHalfEven(data[i] / scale);
      values[i] = Math.max(-INT8_MAX, Math.min(INT8_MAX, q));
    }
  }
  return { values, scales };
}

/** The f32 values int8 rows stand for. */
export function dequantizeRows({ values, scales }: Int8Rows): Float32Array {
  const width = checkRows(values.length, scales.length);
  const out = new Float32Array(values.length);
  for (let row = 0; row < scales.length; row++) {
    const scale = scales[row];
    for (let i = row * width; i < (row + 1) * width; i++) out[i] = values[i] * scale;
  }
  return out;
}

/** `data` as it reads back after storage as `dtype` (`rows` output channels for int8). */
export function roundTrip(data: Float32Array, dtype: WeightDType, rows = 1): Float32Array {
  if (dtype === "f16") return decodeHalves(encodeHalves(data));
  if (dtype === "int8") return dequantizeRows(quantizeRows(data, rows));
  return data;
}

/** The worst relative error of one row, and which row. */
export interface RowError {
  /** max |original - restored| / max |original| over the row (absolute for an all-zero row). */
  readonly error: number;
  readonly row: number;
}

/** Per row: max |original - restored| relative to the row's largest magnitude; the worst row. */
export function rowError(
  original: ArrayLike<number>,
  restored: ArrayLike<number>,
  rows: number,
): RowError {
  const width = checkRows(original.length, rows);
  let worst: RowError = { error: 0, row: 0 };
  for (let row = 0; row < rows; row++) {
    let largest = 0, difference = 0;
    for (let i = row * width; i < (row + 1) * width; i++) {
      largest = Math.max(largest, Math.abs(original[i]));
      const d = Math.abs(original[i] - restored[i]);
      // NaN (a value that cannot be stored) counts as the worst error there is.
      if (!(d <= difference)) difference = Number.isNaN(d) ? Infinity : d;
    }
    const error = largest === 0 ? difference : difference / largest;
    if (error > worst.error) worst = { error, row };
  }
  return worst;
}

/**
 * The largest activation code of int8 GEMMs: activations are quantized to 7
 * bits, unsigned. WebAssembly's i32x4.relaxed_dot_i8x16_i7x16_add_s is
 * deterministic only when its second operand's bytes have the top bit clear
 * (x86 multiplies them as unsigned), so activations take [0, 127] with a
 * zero point, weights the signed int8 of quantizeRows.
 */
export const ACTIVATION_MAX = 127;

/** One row of activations quantized: value ≈ (codes[i] - zero) * scale. */
export interface QuantizedActivations {
  readonly codes: Uint8Array;
  readonly scale: number;
  readonly zero: number;
}

/**
 * Dynamic asymmetric 7-bit quantization of one row, in f32 arithmetic
 * exactly as the wasm kernels compute it (so tests compare bit for bit):
 * lo = min(0, min x), hi = max(0, max x) (the range holds 0, so zero
 * padding is exact); scale = (hi - lo) / 127, or 1 for an all-zero row;
 * inv = 1 / scale; zero = round(-lo * inv); code = clamp(round(x * inv) +
 * zero, 0, 127), rounding half to even.
 */
export function quantizeActivations(row: ArrayLike<number>): QuantizedActivations {
  let lo = 0, hi = 0;
  for (let i = 0; i < row.length; i++) {
    lo = Math.min(lo, row[i]);
    hi = Math.max(hi, row[i]);
  }
  let scale = Math.fround(Math.fround(hi - lo) / ACTIVATION_MAX);
  if (scale === 0) scale = 1;
  const inv = Math.fround(1 / scale);
  const zero = roundHalfEven(Math.fround(-lo * inv));
  const codes = new Uint8Array(row.length);
  for (let i = 0; i < row.length; i++) {
    const code = roundHalfEven(Math.fround(row[i] * inv)) + zero;
    codes[i] = Math.max(0, Math.min(ACTIVATION_MAX, code));
  }
  return { codes, scale, zero };
}
