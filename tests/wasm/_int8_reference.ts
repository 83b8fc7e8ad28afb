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

/** A 1x1 stride-1 conv x [batch, C, H, W] by w [O, C/groups, 1, 1], without bias. */
export function int8Conv1x1(
  x: Float32Array,
  w: Float32Array,
  shape: { batch: number; channels: number; pixels: number; out: number; groups: number },
): Float32Array {
  const { batch, channels, pixels, out: outChannels, groups } = shape;
  const cg = channels / groups, og = outChannels / groups;
  const result = new Float32Array(batch * outChannels * pixels);
  const column = new Float32Array(cg);
  for (let b = 0; b < batch; b++) {
    for (let g = 0; g < groups; g++) {
      for (let p = 0; p < pixels; p++) {
        for (let c = 0; c < cg; c++) column[c] = x[(b * channels + g * cg + c) * pixels + p];
        const a = quantizeActivations(column);
        const weights = quantizeRows(w, outChannels);
        for (let j = 0; j < og; j++) {
          const o = g * og + j;
          let acc = 0, sum = 0;
          for (let c = 0; c < cg; c++) {
            const q = weights.values[o * cg + c];
            acc += q * a.codes[c];
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
