/**
 * The device limits a WebGPU plan is made against. Plans are checked at
 * compile time against the limits every WebGPU device guarantees (the
 * defaults below), so an emitted model runs on any conforming device; the
 * runtime checks again against the device it is given.
 */

/** The limits the planner and the runtime look at (names as in GPUSupportedLimits). */
export interface GpuLimits {
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  readonly maxStorageBuffersPerShaderStage: number;
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly maxComputeWorkgroupStorageSize: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly minStorageBufferOffsetAlignment: number;
}

/** The WebGPU specification's default limits, which every device supports. */
export const DEFAULT_LIMITS: GpuLimits = Object.freeze({
  maxStorageBufferBindingSize: 128 * 1024 * 1024,
  maxBufferSize: 256 * 1024 * 1024,
  maxStorageBuffersPerShaderStage: 8,
  maxComputeWorkgroupsPerDimension: 65535,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  minStorageBufferOffsetAlignment: 256,
});

/** Defaults with `override` applied; rejects values a kernel could not work with. */
export function resolveLimits(override: Partial<GpuLimits> = {}): GpuLimits {
  const limits = { ...DEFAULT_LIMITS, ...override };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`webgpu: limit ${name} must be a positive integer, got ${value}`);
    }
  }
  if (limits.maxStorageBuffersPerShaderStage < 4) {
    throw new RangeError("webgpu: maxStorageBuffersPerShaderStage below 4 cannot run a GEMM");
  }
  if (limits.maxComputeInvocationsPerWorkgroup < 256) {
    throw new RangeError("webgpu: kernels use 256 invocations per workgroup");
  }
  return limits;
}

/** Bytes per stored element that plans budget for: f32, also for f16 models, whose weights a device without shader-f16 stores as f32. */
export const PLAN_ELEMENT_BYTES = 4;

/** Element alignment of every weight entry and buffer size (256 bytes of f16 or 512 of f32). */
export const ELEMENT_ALIGN = 128;

/** `count` rounded up to a multiple of `to`. */
export function roundUp(count: number, to: number): number {
  return Math.ceil(count / to) * to;
}
