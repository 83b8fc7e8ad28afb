/**
 * batchnorm in inference form: y = gamma * (x - mean) / sqrt(var + eps) + beta,
 * per channel along `axis`. Inputs: x, gamma, beta, mean, var (each [C]).
 *
 * Its deploy-time form is the per-channel affine map y = scale * x + shift,
 * scale = gamma / sqrt(var + eps), shift = beta - mean * scale. That map is
 * defined once, here (batchnormScaleShift), and the reference semantics use
 * it, so BN folding, lowering and every backend compute the same numbers.
 */
import type { TensorData } from "../tensor.ts";
import { fail, type OpDef } from "./_shared.ts";

/** A per-channel affine map `y = scale[c] * x + shift[c]`, in float64. */
export interface ScaleShift {
  readonly scale: Float64Array;
  readonly shift: Float64Array;
}

/** The affine form of an inference BatchNorm with these parameters. */
export function batchnormScaleShift(
  epsilon: number,
  gamma: TensorData,
  beta: TensorData,
  mean: TensorData,
  variance: TensorData,
): ScaleShift {
  const channels = gamma.length;
  const scale = new Float64Array(channels), shift = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    scale[c] = gamma[c] / Math.sqrt(variance[c] + epsilon);
    shift[c] = beta[c] - mean[c] * scale[c];
  }
  return { scale, shift };
}

/** Attributes of batchnorm. */
export interface BatchnormAttrs {
  readonly epsilon: number;
  /** The channel axis: 1 for NCHW and for BatchNorm1d on (N, C). */
  readonly axis: number;
}

/** Inference-mode batch normalization. */
export const batchnorm: OpDef<BatchnormAttrs> = {
  arity: [5, 5],
  shape(attrs, inputs) {
    const [x, ...params] = inputs;
    if (!(attrs.epsilon >= 0 && attrs.epsilon < 1)) {
      fail("batchnorm", attrs, inputs, "epsilon must be in [0, 1)");
    }
    if (!Number.isSafeInteger(attrs.axis) || attrs.axis < 0 || attrs.axis >= x.shape.length) {
      fail("batchnorm", attrs, inputs, "axis out of range");
    }
    const channels = x.shape[attrs.axis];
    for (const param of params) {
      if (param.shape.length !== 1 || param.shape[0] !== channels) {
        fail("batchnorm", attrs, inputs, `gamma, beta, mean and var must have shape [${channels}]`);
      }
    }
    return [...x.shape];
  },
  evaluate(attrs, [x, gamma, beta, mean, variance], outShape) {
    const channels = outShape[attrs.axis];
    const inner = outShape.slice(attrs.axis + 1).reduce((a, d) => a * d, 1);
    const { scale, shift } = batchnormScaleShift(
      attrs.epsilon,
      gamma.data,
      beta.data,
      mean.data,
      variance.data,
    );
    const out = new Float64Array(x.data.length);
    for (let i = 0; i < out.length; i++) {
      const ch = Math.floor(i / inner) % channels;
      out[i] = x.data[i] * scale[ch] + shift[ch];
    }
    return out;
  },
  flops: (_attrs, [x]) => 2 * x.shape.reduce((a, d) => a * d, 1),
};
