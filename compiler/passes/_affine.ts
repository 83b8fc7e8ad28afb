/**
 * Per-channel affine algebra, TVM-style: decompose a BatchNorm into a
 * per-channel scale and shift (`y = s*x + t`, `s = gamma/sqrt(var+eps)`,
 * `t = beta - mean*s`), read a multiply, add, subtract or divide by a
 * per-channel constant (a layer scale, an exported bias) as the same map,
 * then push them into the weights of a neighbouring conv or FC.
 * Scales and shifts are float64; new weights are float32, computed element by
 * element so that no float64 copy of a large weight is ever made.
 */
import {
  batchnormScaleShift,
  broadcastShapes,
  type Node,
  sameShape,
  type ScaleShift,
} from "../../ir/mod.ts";
import { constant } from "./_rewrite.ts";

/** A per-channel affine map `y = scale[c] * x + shift[c]`. */
export type Affine = ScaleShift;

/** The affine form of an inference BatchNorm, or undefined when its statistics are computed. */
export function batchnormAffine(bn: Node<"batchnorm">): Affine | undefined {
  const [gamma, beta, mean, variance] = bn.inputs.slice(1).map(constant);
  if (!gamma || !beta || !mean || !variance) return undefined;
  return batchnormScaleShift(bn.attrs.epsilon, gamma, beta, mean, variance);
}

/** True when the map moves zero somewhere else, which a zero-padded border would not follow. */
export function hasShift(affine: Affine): boolean {
  return affine.shift.some((t) => t !== 0);
}

/**
 * Which channel each element of a tensor belongs to, for a flat row-major
 * index i: `channel(i) = floor(i / inner) % channels`. This survives reshapes
 * unchanged, which is why BatchNorms are matched through them.
 */
export interface ChannelMap {
  readonly inner: number;
  readonly channels: number;
}

/** The channel map of a BatchNorm's operand. */
export function channelMapOf(bn: Node<"batchnorm">): ChannelMap {
  const shape = bn.type.shape;
  let inner = 1;
  for (let axis = bn.attrs.axis + 1; axis < shape.length; axis++) inner *= shape[axis];
  return { inner, channels: shape[bn.attrs.axis] };
}

/**
 * The channel of each of `features` features when every feature covers
 * `span` consecutive elements of each row (a linear's outputs: span 1; a
 * conv's channels: span h*w), or undefined when some feature's elements fall
 * in different channels.
 */
export function featureChannels(
  map: ChannelMap,
  { features, span }: { features: number; span: number },
): Int32Array | undefined {
  if (map.inner % span !== 0) return undefined;
  const block = map.inner / span;
  if (features % (block * map.channels) !== 0) return undefined;
  const channel = new Int32Array(features);
  for (let f = 0; f < features; f++) channel[f] = Math.floor(f / block) % map.channels;
  return channel;
}

/**
 * The channel map after a pooling op on NCHW planes of `inPlane` elements,
 * each becoming `outPlane` elements, or undefined when a channel changes
 * inside a plane.
 */
export function poolChannelMap(
  map: ChannelMap,
  { inPlane, outPlane }: { inPlane: number; outPlane: number },
): ChannelMap | undefined {
  if (map.inner % inPlane !== 0) return undefined;
  return { inner: (map.inner / inPlane) * outPlane, channels: map.channels };
}

/**
 * The channel map after a transpose, or undefined when the channel's axes do
 * not move as one block (they must be whole axes of the input, and stay
 * adjacent and in order in the output; unit axes do not count).
 */
export function transposeChannelMap(
  map: ChannelMap,
  { shape, perm }: { shape: readonly number[]; perm: readonly number[] },
): ChannelMap | undefined {
  const suffix = new Array<number>(shape.length + 1).fill(1);
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    suffix[axis] = suffix[axis + 1] * shape[axis];
  }
  const first = suffix.indexOf(map.inner * map.channels), end = suffix.lastIndexOf(map.inner);
  if (first < 0 || end < 0 || first > end) return undefined;
  const moved: number[] = [];
  for (let axis = first; axis < end; axis++) if (shape[axis] > 1) moved.push(perm.indexOf(axis));
  if (moved.length === 0) return { inner: 1, channels: 1 };
  const out = perm.map((axis) => shape[axis]);
  for (let i = 1; i < moved.length; i++) {
    if (moved[i] < moved[i - 1]) return undefined;
    for (let between = moved[i - 1] + 1; between < moved[i]; between++) {
      if (out[between] > 1) return undefined;
    }
  }
  const inner = out.slice(moved[moved.length - 1] + 1).reduce((a, d) => a * d, 1);
  return { inner, channels: map.channels };
}

/** A conv or linear's weights viewed as `rows` output features of `perRow` values each. */
export interface LayerWeights {
  readonly weight: Float32Array;
  readonly bias?: Float32Array;
  /** Output features: O of a conv, N of a linear. */
  readonly outputs: number;
  /** Groups: output feature o reads input features of group floor(o / (outputs / groups)). */
  readonly groups: number;
  /** Input features per group: C/g of a conv, K/g of a linear. */
  readonly inputsPerGroup: number;
  /** Values per input feature: kh*kw of a conv, 1 of a linear. */
  readonly taps: number;
}

/** The weights of a conv or linear when they are constants. */
export function layerWeights(layer: Node<"conv2d" | "linear">): LayerWeights | undefined {
  const weight = constant(layer.inputs[1]);
  const bias = layer.inputs[2] ? constant(layer.inputs[2]) : undefined;
  if (!weight || (layer.inputs[2] && !bias)) return undefined;
  const shape = layer.inputs[1].type.shape;
  const taps = shape.slice(2).reduce((a, d) => a * d, 1);
  return {
    weight,
    bias,
    outputs: shape[0],
    groups: layer.attrs.groups,
    inputsPerGroup: shape[1],
    taps,
  };
}

/** An affine map per channel, and the channel of each feature it applies to. */
export interface ChannelAffine {
  readonly channel: Int32Array;
  readonly affine: Affine;
}

/** `W' = s[ch(o)] W[o]`, `b' = s[ch(o)] b[o] + t[ch(o)]`: an affine applied after the layer. */
export function scaleOutputs(
  layer: LayerWeights,
  { channel, affine }: ChannelAffine,
): { weight: Float32Array; bias: Float32Array } {
  const { outputs } = layer;
  const row = layer.weight.length / outputs;
  const weight = new Float32Array(layer.weight.length);
  const bias = new Float32Array(outputs);
  for (let o = 0; o < outputs; o++) {
    const s = affine.scale[channel[o]];
    for (let i = o * row; i < (o + 1) * row; i++) weight[i] = layer.weight[i] * s;
    bias[o] = (layer.bias ? layer.bias[o] * s : 0) + affine.shift[channel[o]];
  }
  return { weight, bias };
}

/**
 * `W' = W diag(s)`, `b' = b + W t`: an affine applied to the layer's input,
 * `channel` giving the channel of each input feature (all groups together).
 */
export function scaleInputs(
  layer: LayerWeights,
  { channel, affine }: ChannelAffine,
): { weight: Float32Array; bias: Float32Array } {
  const { outputs, groups, inputsPerGroup, taps } = layer;
  const perGroup = outputs / groups;
  const weight = new Float32Array(layer.weight.length);
  const bias = new Float32Array(outputs);
  let index = 0;
  for (let o = 0; o < outputs; o++) {
    const first = Math.floor(o / perGroup) * inputsPerGroup;
    let sum = layer.bias ? layer.bias[o] : 0;
    for (let k = 0; k < inputsPerGroup; k++) {
      const c = channel[first + k];
      const s = affine.scale[c], t = affine.shift[c];
      for (let tap = 0; tap < taps; tap++, index++) {
        const w = layer.weight[index];
        weight[index] = w * s;
        sum += w * t;
      }
    }
    bias[o] = sum;
  }
  return { weight, bias };
}

/** One node applying a per-channel affine map to `x`. */
export interface AffineOp {
  readonly node: Node;
  readonly x: Node;
  readonly map: ChannelMap;
  readonly affine: Affine;
}

/**
 * The channel map and per-channel values of a constant broadcast against `x`:
 * the constant may vary along one axis of x at most (a scalar is read along
 * axis 1, or 0 for vectors).
 */
function perChannel(
  x: Node,
  c: Node,
): { map: ChannelMap; values: (channel: number) => number } | undefined {
  const data = constant(c);
  const shape = x.type.shape, own = c.type.shape;
  const grown = broadcastShapes(shape, own);
  if (!data || !grown || !sameShape(grown, shape)) return undefined;
  const varying = own.map((dim, i) => ({ dim, axis: shape.length - own.length + i }))
    .filter(({ dim }) => dim > 1);
  if (varying.length > 1) return undefined;
  const axis = varying[0]?.axis ?? Math.min(1, shape.length - 1);
  const inner = shape.slice(axis + 1).reduce((a, d) => a * d, 1);
  const scalar = varying.length === 0;
  return {
    map: { inner, channels: shape[axis] },
    values: (channel) => data[scalar ? 0 : channel],
  };
}

/** Builds the float64 scale and shift of `channels` channels from per-channel functions. */
function affineOf(
  channels: number,
  scale: (c: number) => number,
  shift: (c: number) => number,
): Affine {
  return {
    scale: Float64Array.from({ length: channels }, (_, c) => scale(c)),
    shift: Float64Array.from({ length: channels }, (_, c) => shift(c)),
  };
}

/**
 * The per-channel affine map `node` applies, when it is one:
 *   batchnorm(x)  -> s x + t            x * c, c * x -> c x       x / c -> (1/c) x
 *   x + c, c + x  -> x + c              x - c        -> x - c     c - x -> -x + c
 * with c a constant varying along at most one axis of x, which x's shape keeps.
 */
export function affineOp(node: Node): AffineOp | undefined {
  if (node.op === "batchnorm") {
    const affine = batchnormAffine(node);
    return affine && { node, x: node.inputs[0], map: channelMapOf(node), affine };
  }
  if (node.op !== "add" && node.op !== "sub" && node.op !== "mul" && node.op !== "div") {
    return undefined;
  }
  const [a, b] = node.inputs;
  const xFirst = constant(a) === undefined || constant(b) !== undefined;
  const [x, c] = xFirst ? [a, b] : [b, a];
  const per = constant(x) === undefined ? perChannel(x, c) : undefined;
  if (!per || !sameShape(x.type.shape, node.type.shape)) return undefined;
  const { map, values } = per;
  const one = () => 1, zero = () => 0;
  switch (node.op) {
    case "mul":
      return { node, x, map, affine: affineOf(map.channels, values, zero) };
    case "add":
      return { node, x, map, affine: affineOf(map.channels, one, values) };
    case "sub":
      return xFirst
        ? { node, x, map, affine: affineOf(map.channels, one, (ch) => -values(ch)) }
        : { node, x, map, affine: affineOf(map.channels, () => -1, values) };
    case "div":
      return xFirst
        ? { node, x, map, affine: affineOf(map.channels, (ch) => 1 / values(ch), zero) }
        : undefined;
  }
}
