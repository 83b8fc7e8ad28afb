/**
 * Dense tensors as the reference semantics see them: a shape and a flat
 * row-major array. Reference kernels compute in float64.
 */
import { sizeOf } from "./types.ts";

/** Flat storage of a tensor. Weights arrive as f32; reference results are f64. */
export type TensorData = Float64Array | Float32Array;

/** A dense row-major tensor. */
export interface Tensor {
  readonly shape: readonly number[];
  readonly data: TensorData;
}

/** A zero-filled float64 tensor. */
export function zeros(shape: readonly number[]): Tensor & { data: Float64Array } {
  return { shape, data: new Float64Array(sizeOf(shape)) };
}

/** Rounds a tensor to float32 storage. */
export function toFloat32(data: TensorData): Float32Array {
  return data instanceof Float32Array ? data : Float32Array.from(data);
}
