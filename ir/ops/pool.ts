/**
 * Pooling over the spatial axes of NCHW tensors: windowed average and max,
 * and the global average that keeps (N, C, 1, 1).
 */
import type { TensorType } from "../types.ts";
import { fail, isIntTuple, type OpDef, windowOutput } from "./_shared.ts";

/** Attributes of avgpool and maxpool. */
export interface PoolAttrs {
  readonly kernel: readonly [number, number];
  readonly stride: readonly [number, number];
  /** [top, left, bottom, right]. */
  readonly pads: readonly [number, number, number, number];
}

/** avgpool also says whether padded cells count in the divisor (PyTorch's default: they do). */
export interface AvgpoolAttrs extends PoolAttrs {
  readonly countIncludePad: boolean;
}

function poolShape(op: string) {
  return (attrs: PoolAttrs, inputs: readonly TensorType[]): number[] => {
    const problem = (text: string) => fail(op, attrs, inputs, text);
    if (!isIntTuple(attrs.kernel, 2, 1)) problem("kernel must be two integers >= 1");
    if (!isIntTuple(attrs.stride, 2, 1)) problem("stride must be two integers >= 1");
    if (!isIntTuple(attrs.pads, 4, 0)) problem("pads must be four integers >= 0");
    const [x] = inputs;
    if (x.shape.length !== 4) problem("input must be 4-D (N, C, H, W)");
    const [kh, kw] = attrs.kernel;
    const [pt, pl, pb, pr] = attrs.pads;
    if (pt >= kh || pb >= kh || pl >= kw || pr >= kw) {
      problem("padding must be smaller than kernel");
    }
    const oh = windowOutput(x.shape[2], kh, attrs.stride[0], pt, pb);
    const ow = windowOutput(x.shape[3], kw, attrs.stride[1], pl, pr);
    if (oh < 1 || ow < 1) problem("kernel is larger than the padded input");
    return [x.shape[0], x.shape[1], oh, ow];
  };
}

/** Visits each output cell with the in-bounds input offsets of its window. */
function poolEvaluate(
  attrs: PoolAttrs,
  inShape: readonly number[],
  outShape: readonly number[],
  reduce: (offsets: number[], windowCells: number) => number,
): Float64Array {
  const [n, c, h, w] = inShape;
  const [, , oh, ow] = outShape;
  const [kh, kw] = attrs.kernel;
  const [sh, sw] = attrs.stride;
  const [pt, pl, pb, pr] = attrs.pads;
  const out = new Float64Array(n * c * oh * ow);
  const offsets: number[] = [];
  for (let plane = 0; plane < n * c; plane++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        offsets.length = 0;
        const y0 = oy * sh - pt, x0 = ox * sw - pl;
        const windowCells = (Math.min(y0 + kh, h + pb) - y0) * (Math.min(x0 + kw, w + pr) - x0);
        for (let y = Math.max(y0, 0); y < Math.min(y0 + kh, h); y++) {
          for (let x = Math.max(x0, 0); x < Math.min(x0 + kw, w); x++) {
            offsets.push((plane * h + y) * w + x);
          }
        }
        out[(plane * oh + oy) * ow + ox] = reduce(offsets, windowCells);
      }
    }
  }
  return out;
}

/** Windowed average. */
export const avgpool: OpDef<AvgpoolAttrs> = {
  arity: [1, 1],
  shape: poolShape("avgpool"),
  evaluate(attrs, [x], outShape) {
    return poolEvaluate(attrs, x.shape, outShape, (offsets, windowCells) => {
      let sum = 0;
      for (const offset of offsets) sum += x.data[offset];
      return sum / (attrs.countIncludePad ? windowCells : offsets.length);
    });
  },
  flops: (attrs, _inputs, outShape) =>
    outShape.reduce((a, d) => a * d, 1) * attrs.kernel[0] * attrs.kernel[1],
};

/** Windowed maximum; padding never wins. */
export const maxpool: OpDef<PoolAttrs> = {
  arity: [1, 1],
  shape: poolShape("maxpool"),
  evaluate(attrs, [x], outShape) {
    return poolEvaluate(attrs, x.shape, outShape, (offsets) => {
      let best = -Infinity;
      for (const offset of offsets) best = Math.max(best, x.data[offset]);
      return best;
    });
  },
  flops: (attrs, _inputs, outShape) =>
    outShape.reduce((a, d) => a * d, 1) * attrs.kernel[0] * attrs.kernel[1],
};

/** Global average pool: (N, C, H, W) -> (N, C, 1, 1). */
export const global_avgpool: OpDef<Record<never, never>> = {
  arity: [1, 1],
  shape(attrs, inputs) {
    const [x] = inputs;
    if (x.shape.length !== 4) fail("global_avgpool", attrs, inputs, "input must be 4-D");
    return [x.shape[0], x.shape[1], 1, 1];
  },
  evaluate(_attrs, [x]) {
    const [n, c, h, w] = x.shape;
    const out = new Float64Array(n * c);
    for (let plane = 0; plane < n * c; plane++) {
      let sum = 0;
      for (let i = plane * h * w; i < (plane + 1) * h * w; i++) sum += x.data[i];
      out[plane] = sum / (h * w);
    }
    return out;
  },
  flops: (_attrs, [x]) => x.shape.reduce((a, d) => a * d, 1),
};
