/**
 * The plan that model.js carries: everything the runtime needs to create
 * buffers, pipelines and bind groups at load and to encode one run. It is
 * plain JSON; the WGSL texts are in `shaders`, without their prelude (the
 * runtime prepends one defining the stored types as f32 or f16).
 */

/** A graph input or output. */
export interface PortPlan {
  readonly name: string;
  readonly shape: readonly number[];
  readonly buffer: number;
}

/** An activation, input or output buffer; sizes are in elements. */
export interface BufferPlan {
  readonly elements: number;
  /** act: stored as f32 or f16; input, output, scratch: f32. */
  readonly role: "input" | "output" | "act" | "scratch";
}

/** A binding: a whole buffer, or one weight entry (a range of a page). */
export type BindingPlan =
  | { readonly buffer: number }
  | { readonly entry: number };

/** One dispatch: `base` is the pipeline's override constant (first linear workgroup index). */
export interface DispatchPlan {
  readonly base: number;
  readonly size: readonly [number, number, number];
}

/** One kernel: its shader, bindings in binding order (the output last) and dispatches. */
export interface KernelPlan {
  readonly label: string;
  readonly shader: number;
  readonly bindings: readonly BindingPlan[];
  readonly dispatches: readonly DispatchPlan[];
  readonly workgroupStorage: number;
}

/** The limits a plan needs of its device. */
export interface RequiredLimits {
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  readonly maxStorageBuffersPerShaderStage: number;
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly maxComputeWorkgroupStorageSize: number;
}

/** The whole plan. */
export interface Plan {
  readonly name: string;
  /** Weights stored as f16 in the weight bytes (and activations f16 where the device can). */
  readonly f16: boolean;
  readonly inputs: readonly PortPlan[];
  readonly outputs: readonly PortPlan[];
  readonly buffers: readonly BufferPlan[];
  /** Weight pages, in elements; page i starts at the sum of the earlier pages. */
  readonly pages: readonly number[];
  /** Weight entries: page, element offset and element count. */
  readonly entries: readonly {
    readonly page: number;
    readonly offset: number;
    readonly elements: number;
  }[];
  readonly shaders: readonly string[];
  readonly kernels: readonly KernelPlan[];
  /** The largest binding and buffer sizes in bytes at f32 (halved where f16 is stored). */
  readonly limits: RequiredLimits;
}
