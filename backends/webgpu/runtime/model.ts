/// <reference types="npm:@webgpu/types@0.1.74" />
/**
 * Runtime glue of a WebGPU model.js: at load it creates every buffer,
 * pipeline and bind group once; a run writes the inputs, encodes all
 * dispatches into one command encoder and one compute pass, copies the
 * outputs out and submits once. Activations live in the buffers the plan
 * assigned by liveness, so overlapping runs are ordered by the queue, and
 * each run reads back through a staging buffer of its own.
 */
import { shapeOutputs, type TensorInfo } from "../../runtime/io.ts";
import { acquireDevice, type Precision } from "./device.ts";
import type { Plan } from "./plan.ts";
import {
  type ProgressCallback,
  readWeights,
  type WeightsOption,
  type WeightSource,
} from "../../runtime/files.ts";
import { type GpuRunInput, splitInputs, uploadPages } from "./resources.ts";

export type { GpuRunInput } from "./resources.ts";
export type { WeightSource } from "../../runtime/files.ts";

/** Options of `load`. */
export interface LoadOptions {
  /** The weight bytes, or where to read them; default: the file next to model.js. */
  readonly weights?: WeightsOption;
  /** Called with `{ loaded, total }` bytes as the weights are read; the last has loaded === total. */
  readonly onProgress?: ProgressCallback;
  /** The device to run on; default: one requested from navigator.gpu. */
  readonly device?: GPUDevice;
  /** f16 models on devices without shader-f16: round stored activations to f16 anyway. */
  readonly emulateF16?: boolean;
}

/** A loaded model. */
export interface WebGpuModel {
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  /** "f32", "f16", "f16-weights" or "f16-emulated". */
  readonly precision: string;
  readonly device: GPUDevice;
  run(inputs: GpuRunInput): Promise<Float32Array | Record<string, Float32Array>>;
  runOnGpu(inputs: GpuRunInput): Promise<Record<string, GPUBuffer>>;
  dispose(): void;
}

const STAGING_ALIGN = 256;

/** Loads a plan: model.js calls this with its plan and import.meta.url. */
export async function createModel(
  plan: Plan,
  base: string,
  source: WeightSource,
  options: LoadOptions = {},
): Promise<WebGpuModel> {
  const bytes = await readWeights(base, options, source);
  const { device, precision, owned } = await acquireDevice(
    plan,
    options.device,
    !!options.emulateF16,
  );
  const resources = await createResources(device, plan, precision, bytes, owned);
  return new LoadedModel(plan, device, precision.name, owned, resources);
}

/** What a model holds on its device. */
interface Resources {
  /** The plan's buffers, by index. */
  readonly buffers: readonly GPUBuffer[];
  readonly steps: readonly Step[];
  /** Every buffer made here (weight pages included), destroyed by dispose(). */
  readonly owner: readonly GPUBuffer[];
}

/**
 * Buffers, weight pages, pipelines and bind groups, under one validation
 * scope: a rejected model releases what it made (and a device it owns).
 */
async function createResources(
  device: GPUDevice,
  plan: Plan,
  precision: Precision,
  bytes: Uint8Array,
  owned: boolean,
): Promise<Resources> {
  const owner: GPUBuffer[] = [];
  const make = (size: number, usage: number, label: string) => {
    const buffer = device.createBuffer({
      size: Math.max(4, Math.ceil(size / 4) * 4),
      usage,
      label,
    });
    owner.push(buffer);
    return buffer;
  };
  device.pushErrorScope("validation");
  let buffers: GPUBuffer[], steps: Step[];
  try {
    buffers = plan.buffers.map((buffer, i) =>
      make(
        buffer.elements * (buffer.role === "act" ? precision.act : 4),
        GPUBufferUsage.STORAGE |
          (buffer.role === "input" ? GPUBufferUsage.COPY_DST : 0) |
          (buffer.role === "output" ? GPUBufferUsage.COPY_SRC : 0),
        `refold ${buffer.role} ${i}`,
      )
    );
    const pages = uploadPages(device, plan, bytes, precision.weight, owner);
    steps = await createSteps(device, plan, precision, buffers, pages);
  } catch (failure) {
    await device.popErrorScope();
    release(owner, owned ? device : undefined);
    throw failure;
  }
  const error = await device.popErrorScope();
  if (error) {
    release(owner, owned ? device : undefined);
    throw new Error(`refold: WebGPU rejected model "${plan.name}": ${error.message}`);
  }
  return { buffers, steps, owner };
}

/** A model on its device: one command encoder and one compute pass per run. */
class LoadedModel implements WebGpuModel {
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  readonly #outputBytes: readonly number[];
  readonly #stagingOffsets: readonly number[] = [];
  readonly #stagingSize: number;
  readonly #idleStaging: GPUBuffer[] = [];
  #disposed = false;

  constructor(
    private readonly plan: Plan,
    readonly device: GPUDevice,
    readonly precision: string,
    private readonly ownsDevice: boolean,
    private readonly resources: Resources,
  ) {
    const info = (port: Plan["inputs"][number]): TensorInfo => ({
      name: port.name,
      shape: port.shape,
      dtype: "float32",
    });
    this.inputs = plan.inputs.map(info);
    this.outputs = plan.outputs.map(info);
    this.#outputBytes = plan.outputs.map((port) => plan.buffers[port.buffer].elements * 4);
    const offsets: number[] = [];
    let size = 0;
    for (const bytes of this.#outputBytes) {
      offsets.push(size);
      size += Math.ceil(bytes / STAGING_ALIGN) * STAGING_ALIGN;
    }
    this.#stagingOffsets = offsets;
    this.#stagingSize = size;
  }

  /** Writes the inputs, encodes every dispatch and `finish`'s copies, and submits once. */
  #encode(given: GpuRunInput, finish: (encoder: GPUCommandEncoder) => void): void {
    if (this.#disposed) throw new Error("refold: run() after dispose()");
    const { device, plan } = this;
    const { buffers, steps } = this.resources;
    const arrays = splitInputs(this.inputs, given);
    const encoder = device.createCommandEncoder();
    arrays.forEach((value, i) => {
      const target = buffers[plan.inputs[i].buffer];
      if (value instanceof Float32Array) device.queue.writeBuffer(target, 0, value);
      else encoder.copyBufferToBuffer(value, 0, target, 0, target.size);
    });
    const pass = encoder.beginComputePass();
    for (const step of steps) {
      pass.setPipeline(step.pipeline);
      pass.setBindGroup(0, step.group);
      pass.dispatchWorkgroups(step.size[0], step.size[1], step.size[2]);
    }
    pass.end();
    finish(encoder);
    device.queue.submit([encoder.finish()]);
  }

  async run(given: GpuRunInput): Promise<Float32Array | Record<string, Float32Array>> {
    if (this.#disposed) throw new Error("refold: run() after dispose()");
    const outputBytes = this.#outputBytes, offsets = this.#stagingOffsets;
    const staging = this.#idleStaging.pop() ??
      this.device.createBuffer({
        size: Math.max(this.#stagingSize, 4),
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
    try {
      this.#encode(given, (encoder) => {
        this.plan.outputs.forEach((port, i) => {
          const source = this.resources.buffers[port.buffer];
          encoder.copyBufferToBuffer(source, 0, staging, offsets[i], outputBytes[i]);
        });
      });
    } catch (error) {
      // Rejected inputs submit nothing: the staging buffer goes back for the next run.
      this.#idleStaging.push(staging);
      throw error;
    }
    await staging.mapAsync(GPUMapMode.READ);
    const results = this.plan.outputs.map((_port, i) =>
      new Float32Array(staging.getMappedRange(offsets[i], outputBytes[i]).slice(0))
    );
    staging.unmap();
    if (this.#disposed) staging.destroy();
    else this.#idleStaging.push(staging);
    return shapeOutputs(this.outputs, given instanceof Float32Array ? given : {}, results);
  }

  runOnGpu(given: GpuRunInput): Promise<Record<string, GPUBuffer>> {
    const results: Record<string, GPUBuffer> = {};
    try {
      this.#encode(given, (encoder) => {
        this.plan.outputs.forEach((port, i) => {
          const buffer = this.device.createBuffer({
            size: this.#outputBytes[i],
            usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
            label: `refold output ${port.name}`,
          });
          const source = this.resources.buffers[port.buffer];
          encoder.copyBufferToBuffer(source, 0, buffer, 0, this.#outputBytes[i]);
          results[port.name] = buffer;
        });
      });
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.resolve(results);
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    release(
      [...this.resources.owner, ...this.#idleStaging],
      this.ownsDevice ? this.device : undefined,
    );
  }
}

/** One dispatch, ready to encode. */
interface Step {
  readonly pipeline: GPUComputePipeline;
  readonly group: GPUBindGroup;
  readonly size: readonly number[];
}

/** Every pipeline and bind group of the plan, in dispatch order. */
async function createSteps(
  device: GPUDevice,
  plan: Plan,
  precision: Precision,
  buffers: readonly GPUBuffer[],
  pages: readonly GPUBuffer[],
): Promise<Step[]> {
  const modules = plan.shaders.map((code, i) =>
    device.createShaderModule({ code: precision.prelude + code, label: `refold shader ${i}` })
  );
  const perKernel = await Promise.all(plan.kernels.map(async (kernel) => {
    const entries = kernel.bindings.map((binding, i): GPUBindGroupEntry => {
      if ("buffer" in binding) return { binding: i, resource: { buffer: buffers[binding.buffer] } };
      const entry = plan.entries[binding.entry];
      return {
        binding: i,
        resource: {
          buffer: pages[entry.page],
          offset: entry.offset * precision.weight,
          size: Math.max(4, Math.ceil((entry.elements * precision.weight) / 4) * 4),
        },
      };
    });
    const steps: Step[] = [];
    for (const dispatch of kernel.dispatches) {
      const pipeline = await device.createComputePipelineAsync({
        label: kernel.label,
        layout: "auto",
        compute: {
          module: modules[kernel.shader],
          entryPoint: "main",
          constants: { base: dispatch.base },
        },
      }).catch(async (error: Error) => {
        const info = await modules[kernel.shader].getCompilationInfo();
        const first = info.messages.find((message) => message.type === "error");
        const detail = first ? `${first.message} (line ${first.lineNum})` : error.message;
        throw new Error(`refold: cannot build the kernel for ${kernel.label}: ${detail}`);
      });
      const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
      steps.push({ pipeline, group, size: dispatch.size });
    }
    return steps;
  }));
  return perKernel.flat();
}

function release(buffers: readonly GPUBuffer[], device: GPUDevice | undefined): void {
  for (const buffer of buffers) buffer.destroy();
  device?.destroy();
}
