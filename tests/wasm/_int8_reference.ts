/**
 * The exact reference of the wasm int8 GEMMs: activations quantized per row
 * by ir/quantize.ts's quantizeActivations, weights by quantizeRows, the dot
 * products summed in integers, dequantized in the order the microkernel
 * rounds (f32(acc - zero * rowSum) * f32(activationScale * weightScale)).
 */
import { quantizeActivations, quantizeRows } from "../../ir/mod.ts";

/** y[m, g*n + j] of a grouped linear x [m, groups*k] by w [groups*n, k], without bias. */
export function int8Linear(
  x: Float32Array,
  w: Float32Array,
  shape: { m: number; k: number; n: number; groups: number },
): Float32Array {
  const { m, k, n, groups } = shape;
  const weights = quantizeRows(w, groups * n);
  const out = new Float32Array(m * groups * n);
  for (let r = 0; r < m; r++) {
    for (let g = 0; g < groups; g++) {
      const row = x.subarray(r * groups * k + g * k, r * groups * k + (g + 1) * k);
      const a = quantizeActivations(row);
      for (let j = 0; j < n; j++) {
        const o = g * n + j;
        let acc = 0, sum = 0;
        for (let i = 0; i < k; i++) {
          const q = weights.values[o * k + i];
          acc += q * a.codes[i];
          sum += q;
        }
        const scale = Math.fround(a.scale * weights.scales[o]);
        out[r * groups * n + o] = Math.fround(Math.fround(acc - a.zero * sum) * scale);
      }
    }
  }
  return out;
}

/** A conv's geometry, NCHW, square-free: kernel, stride, dilation and pads (top, left, bottom, right). */
export interface ConvShape {
  readonly batch: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly out: number;
  readonly groups: number;
  readonly kernel: readonly [number, number];
  readonly stride?: number;
  readonly dilation?: number;
  readonly pads?: readonly [number, number, number, number];
}

/**
 * A conv x [batch, C, H, W] by w [O, C/groups, kh, kw], without bias: each
 * output pixel's im2col column (c, ky, kx), zeros in the padding, quantized
 * as one row.
 */
export function int8Conv(x: Float32Array, w: Float32Array, shape: ConvShape): Float32Array {
  const { batch, channels, height, width, out: outChannels, groups } = shape;
  const [kh, kw] = shape.kernel;
  const stride = shape.stride ?? 1, dilation = shape.dilation ?? 1;
  const [top, left, bottom, right] = shape.pads ?? [0, 0, 0, 0];
  const outHeight = Math.floor((height + top + bottom - dilation * (kh - 1) - 1) / stride) + 1;
  const outWidth = Math.floor((width + left + right - dilation * (kw - 1) - 1) / stride) + 1;
  const cg = channels / groups, og = outChannels / groups, k = cg * kh * kw;
  const pixels = outHeight * outWidth;
  const weights = quantizeRows(w, outChannels);
  const result = new Float32Array(batch * outChannels * pixels);
  const column = new Float32Array(k);
  for (let b = 0; b < batch; b++) {
    for (let g = 0; g < groups; g++) {
      for (let p = 0; p < pixels; p++) {
        const oy = Math.floor(p / outWidth), ox = p % outWidth;
        for (let c = 0; c < cg; c++) {
          for (let ky = 0; ky < kh; ky++) {
            for (let kx = 0; kx < kw; kx++) {
              const iy = oy * stride - top + ky * dilation, ix = ox * stride - left + kx * dilation;
              const inside = iy >= 0 && iy < height && ix >= 0 && ix < width;
              column[(c * kh + ky) * kw + kx] = inside
                ? x[((b * channels + g * cg + c) * height + iy) * width + ix]
                : 0;
            }
          }
        }
        const a = quantizeActivations(column);
        for (let j = 0; j < og; j++) {
          const o = g * og + j;
          let acc = 0, sum = 0;
          for (let i = 0; i < k; i++) {
            const q = weights.values[o * k + i];
            acc += q * a.codes[i];
            sum += q;
          }
          const scale = Math.fround(weights.scales[o] * a.scale);
          result[(b * outChannels + o) * pixels + p] = Math.fround(
            Math.fround(acc - a.zero * sum) * scale,
          );
        }
      }
    }
  }
  return result;
}
