/**
 * batchnorm in inference form: y = gamma * (x - mean) / sqrt(var + eps) + beta,
 * per channel along `axis`. Inputs: x, gamma, beta, mean, var (each [C]).
 */
import { fail, type OpDef } from "./_shared.ts";

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
    const out = new Float64Array(x.data.length);
    for (let i = 0; i < out.length; i++) {
      const ch = Math.floor(i / inner) % channels;
      const scale = gamma.data[ch] / Math.sqrt(variance.data[ch] + attrs.epsilon);
      out[i] = (x.data[i] - mean.data[ch]) * scale + beta.data[ch];
    }
    return out;
  },
  flops: (_attrs, [x]) => 2 * x.shape.reduce((a, d) => a * d, 1),
};
