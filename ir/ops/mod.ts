/**
 * The op table. `OpAttrs` maps every op name to its attributes type, and
 * `OPS` must hold a definition for every one of them: an op added to one but
 * not the other does not compile.
 */
import type { OpDef } from "./_shared.ts";
import { conv2d, type Conv2dAttrs } from "./conv.ts";
import * as elementwise from "./elementwise.ts";
import { linear, type LinearAttrs } from "./linear.ts";
import {
  concat,
  type ConcatAttrs,
  flatten,
  type FlattenAttrs,
  reshape,
  type ReshapeAttrs,
  transpose,
  type TransposeAttrs,
} from "./movement.ts";
import { batchnorm, type BatchnormAttrs } from "./norm.ts";
export { batchnormScaleShift, type ScaleShift } from "./norm.ts";
import { avgpool, type AvgpoolAttrs, global_avgpool, maxpool, type PoolAttrs } from "./pool.ts";
import { input, type InputAttrs, weight, type WeightAttrs } from "./source.ts";

export type { OpDef } from "./_shared.ts";
export type {
  AvgpoolAttrs,
  BatchnormAttrs,
  ConcatAttrs,
  Conv2dAttrs,
  FlattenAttrs,
  InputAttrs,
  LinearAttrs,
  PoolAttrs,
  ReshapeAttrs,
  TransposeAttrs,
  WeightAttrs,
};
export { broadcastShapes, broadcastStrides, erf } from "./elementwise.ts";
export { resolveReshape } from "./movement.ts";

type NoAttrs = Record<never, never>;

/** Attributes of every op. */
export interface OpAttrs {
  input: InputAttrs;
  weight: WeightAttrs;
  conv2d: Conv2dAttrs;
  batchnorm: BatchnormAttrs;
  linear: LinearAttrs;
  reshape: ReshapeAttrs;
  transpose: TransposeAttrs;
  flatten: FlattenAttrs;
  concat: ConcatAttrs;
  add: NoAttrs;
  sub: NoAttrs;
  mul: NoAttrs;
  div: NoAttrs;
  relu: NoAttrs;
  sigmoid: NoAttrs;
  gelu: NoAttrs;
  erf: NoAttrs;
  avgpool: AvgpoolAttrs;
  maxpool: PoolAttrs;
  global_avgpool: NoAttrs;
}

/** The name of an op. */
export type OpName = keyof OpAttrs;

/** Every op's definition. */
export const OPS: { readonly [O in OpName]: OpDef<OpAttrs[O]> } = {
  input,
  weight,
  conv2d,
  batchnorm,
  linear,
  reshape,
  transpose,
  flatten,
  concat,
  add: elementwise.add,
  sub: elementwise.sub,
  mul: elementwise.mul,
  div: elementwise.div,
  relu: elementwise.relu,
  sigmoid: elementwise.sigmoid,
  gelu: elementwise.gelu,
  erf: elementwise.erfOp,
  avgpool,
  maxpool,
  global_avgpool,
};

/** All op names, in table order. */
export const OP_NAMES = Object.keys(OPS) as OpName[];

/** Op families, so that a rule can match a whole family. */
export const SOURCE_OPS: ReadonlySet<OpName> = new Set(["input", "weight"]);
export const UNARY_OPS: ReadonlySet<OpName> = new Set(["relu", "sigmoid", "gelu", "erf"]);
export const BINARY_OPS: ReadonlySet<OpName> = new Set(["add", "sub", "mul", "div"]);
/**
 * Ops that only change how their input's elements are indexed, so a reader
 * can take them as a strided view of the same buffer. concat is not one: it
 * joins several buffers into a new one.
 */
export const VIEW_OPS = new Set(["reshape", "transpose", "flatten"] as const);
/** The view ops that also keep row-major order: the same buffer, read with new dims. */
export const REINTERPRET_OPS = new Set(["reshape", "flatten"] as const);

/** True when `name` is an op the IR knows. */
export function isOpName(name: string): name is OpName {
  return Object.hasOwn(OPS, name);
}
