/**
 * Compile-time planning: lowers a deployed graph to kernels, assigns buffers
 * by liveness, lays out the weight pages, renders WGSL and checks everything
 * against the device limits (the WebGPU defaults unless overridden), so an
 * emitted model is known to fit before it ever meets a device.
 */
import { type Graph, RefoldError, verifyGraph } from "../../ir/mod.ts";
import { groupNodes } from "./group.ts";
import { type GpuLimits, PLAN_ELEMENT_BYTES, resolveLimits } from "./limits.ts";
import { assignBuffers } from "./liveness.ts";
import { Lowerer } from "./lower.ts";
import { lowerConv, lowerLinear } from "./lower_gemm.ts";
import { planDispatches, renderKernel } from "./render.ts";
import type { BindingPlan, KernelPlan, Plan } from "./runtime/plan.ts";
import { layoutPages } from "./weights.ts";

/** Options of planning. */
export interface PlanOptions {
  /** Store weights (and, on devices with shader-f16, activations) as f16. */
  readonly f16?: boolean;
  /** Limits to plan against instead of the WebGPU defaults (tests use small ones). */
  readonly limits?: Partial<GpuLimits>;
}

/** A plan with its weights (f32, laid out page after page) and figures for the notes. */
export interface CompiledPlan {
  readonly plan: Plan;
  readonly weights: Float32Array;
  readonly stats: {
    readonly kernels: number;
    readonly dispatches: number;
    readonly activationBytes: number;
    readonly weightBytes: number;
    readonly splitLayers: number;
  };
}

/** Plans `graph` for WebGPU. */
export function planWebGpu(graph: Graph, options: PlanOptions = {}): CompiledPlan {
  const limits = resolveLimits(options.limits);
  verifyGraph(graph, "webgpu");
  const lowerer = new Lowerer(limits);
  const inputs = graph.inputs.map((input) => ({
    name: input.attrs.name,
    shape: input.type.shape,
    value: lowerer.materialize(input, "input"),
  }));
  for (const group of groupNodes(graph, limits.maxStorageBuffersPerShaderStage)) {
    if (group.core.op === "linear") lowerLinear(lowerer, group);
    else if (group.core.op === "conv2d") lowerConv(lowerer, group);
    else lowerer.lowerGroup(group);
  }
  const outputs = graph.outputs.map(({ name, node }) => lowerer.port(name, node));
  const { values, kernels } = lowerer;
  const { buffers, bufferOf } = assignBuffers(values, kernels);
  const entries = lowerer.weights.entries;
  const layout = layoutPages(entries, limits);

  const shaders: string[] = [];
  const shaderIndex = new Map<string, number>();
  const kernelPlans: KernelPlan[] = [];
  let maxBindings = 0, maxDimension = 1, maxStorage = 0;
  for (const spec of kernels) {
    const outClass = values[spec.out.id].role === "act" ? "act" : "f32";
    const rendered = renderKernel(
      spec,
      (ref) => ref.kind === "weight" ? "wt" : values[ref.id].role === "act" ? "act" : "f32",
      outClass,
    );
    const bindings: BindingPlan[] = [
      ...rendered.refs.map((ref) =>
        ref.kind === "weight" ? { entry: ref.id } : { buffer: bufferOf[ref.id] }
      ),
      { buffer: bufferOf[spec.out.id] },
    ];
    if (bindings.length > limits.maxStorageBuffersPerShaderStage) {
      throw new RefoldError(
        `webgpu: ${spec.label}: needs ${bindings.length} storage buffers, over ` +
          `maxStorageBuffersPerShaderStage ${limits.maxStorageBuffersPerShaderStage}`,
      );
    }
    let shader = shaderIndex.get(rendered.code);
    if (shader === undefined) {
      shaderIndex.set(rendered.code, shader = shaders.length);
      shaders.push(rendered.code);
    }
    const dispatches = planDispatches(rendered.workgroups, limits.maxComputeWorkgroupsPerDimension);
    for (const dispatch of dispatches) maxDimension = Math.max(maxDimension, ...dispatch.size);
    maxBindings = Math.max(maxBindings, bindings.length);
    maxStorage = Math.max(maxStorage, rendered.workgroupStorage);
    kernelPlans.push({
      label: spec.label,
      shader,
      bindings,
      dispatches,
      workgroupStorage: rendered.workgroupStorage,
    });
  }
  if (maxStorage > limits.maxComputeWorkgroupStorageSize) {
    throw new RefoldError(
      `webgpu: kernels need ${maxStorage} bytes of workgroup memory, over ` +
        `maxComputeWorkgroupStorageSize ${limits.maxComputeWorkgroupStorageSize}`,
    );
  }

  const pageStarts: number[] = [];
  let total = 0;
  for (const page of layout.pages) {
    pageStarts.push(total);
    total += page.elements;
  }
  const weights = new Float32Array(total);
  entries.forEach((entry, i) => {
    const { page, offset } = layout.placement[i];
    weights.set(entry.data, pageStarts[page] + offset);
  });
  const largestBinding = Math.max(
    0,
    ...buffers.map((buffer) => buffer.elements),
    ...entries.map((entry) => entry.data.length),
  ) * PLAN_ELEMENT_BYTES;
  const largestBuffer = Math.max(
    0,
    ...buffers.map((buffer) => buffer.elements),
    ...layout.pages.map((page) => page.elements),
  ) * PLAN_ELEMENT_BYTES;
  const plan: Plan = {
    name: graph.name,
    f16: options.f16 ?? false,
    inputs: inputs.map((port) => ({ ...port, buffer: bufferOf[port.value], value: undefined })),
    outputs: outputs.map((port) => ({ ...port, buffer: bufferOf[port.value], value: undefined })),
    buffers,
    pages: layout.pages.map((page) => page.elements),
    entries: entries.map((entry, i) => ({ ...layout.placement[i], elements: entry.data.length })),
    shaders,
    kernels: kernelPlans,
    limits: {
      maxStorageBufferBindingSize: largestBinding,
      maxBufferSize: largestBuffer,
      maxStorageBuffersPerShaderStage: maxBindings,
      maxComputeWorkgroupsPerDimension: maxDimension,
      maxComputeWorkgroupStorageSize: maxStorage,
    },
  };
  const split = new Set(
    kernels.filter((k) => k.kind === "gemm" && k.label.includes("[part ")).map(
      (k) => k.out.id,
    ),
  );
  return {
    plan: JSON.parse(JSON.stringify(plan)),
    weights,
    stats: {
      kernels: kernels.length,
      dispatches: kernelPlans.reduce((sum, kernel) => sum + kernel.dispatches.length, 0),
      activationBytes: buffers.reduce((sum, b) => sum + b.elements, 0) * PLAN_ELEMENT_BYTES,
      weightBytes: entries.reduce((sum, e) => sum + e.data.length, 0) * PLAN_ELEMENT_BYTES,
      splitLayers: split.size,
    },
  };
}
