/**
 * Weights of int8 GEMMs, quantized and packed at compile time into the
 * layout the int8 microkernel reads (kernels/int8_microkernel.ts), so that
 * weights.bin holds them as int8 and load() copies them in place. The
 * quantization is ir/quantize.ts's quantizeRows: symmetric, [-127, 127], one
 * f32 scale per output channel. The contraction is padded to a multiple of
 * 4 with zero weights, which contribute nothing whatever the activations.
 */
import { quantizeRows } from "../../ir/mod.ts";
import { INT8_NR, PANEL_HEADER } from "./kernels/int8_microkernel.ts";

/** k rounded up to whole 4-byte quads. */
export function paddedK(k: number): number {
  return Math.ceil(k / 4) * 4;
}

/** Bytes of one V panel of `k` (padded) contraction. */
export function panelBytes(k: number): number {
  return PANEL_HEADER + paddedK(k) * INT8_NR;
}

/** Sum of one stored row's int8 values: the zero point's correction factor. */
function rowSum(values: Int8Array, start: number, k: number): number {
  let sum = 0;
  for (let i = 0; i < k; i++) sum += values[start + i];
  return sum;
}

/**
 * A linear weight [groups * n, k] as V panels: per group, per 8 outputs,
 * {row sums i32[8], scales f32[8], codes [k/4][8][4]}; missing outputs are zeros.
 */
export function packWeightPanels(data: Float32Array, groups: number, n: number, k: number) {
  const { values, scales } = quantizeRows(data, groups * n);
  const tiles = Math.ceil(n / INT8_NR), bytes = panelBytes(k);
  const out = new Uint8Array(groups * tiles * bytes);
  const view = new DataView(out.buffer);
  for (let g = 0; g < groups; g++) {
    for (let t = 0; t < tiles; t++) {
      const at = (g * tiles + t) * bytes;
      for (let j = 0; j < INT8_NR && t * INT8_NR + j < n; j++) {
        const row = g * n + t * INT8_NR + j;
        view.setInt32(at + 4 * j, rowSum(values, row * k, k), true);
        view.setFloat32(at + 32 + 4 * j, scales[row], true);
        for (let kk = 0; kk < k; kk++) {
          const to = at + PANEL_HEADER + (kk >> 2) * INT8_NR * 4 + j * 4 + (kk & 3);
          out[to] = values[row * k + kk] & 0xff;
        }
      }
    }
  }
  return out;
}

/**
 * A conv weight [rows, k = channels per group x taps] as S rows: codes [rows][k padded], then per
 * row {f32 scale, i32 row sum}.
 */
export function packWeightRows(data: Float32Array, rows: number, k: number): Uint8Array {
  const { values, scales } = quantizeRows(data, rows);
  const kp = paddedK(k);
  const out = new Uint8Array(rows * kp + rows * 8);
  const view = new DataView(out.buffer);
  for (let r = 0; r < rows; r++) {
    for (let kk = 0; kk < k; kk++) out[r * kp + kk] = values[r * k + kk] & 0xff;
    view.setFloat32(rows * kp + 8 * r, scales[r], true);
    view.setInt32(rows * kp + 8 * r + 4, rowSum(values, r * k, k), true);
  }
  return out;
}
