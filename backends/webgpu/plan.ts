/**
 * Compile-time planning: the backend-neutral plan (backends/plan) with this
 * target's capabilities, scheduled into WebGPU kernels, buffers assigned by
 * liveness, weight pages laid out, WGSL rendered and everything checked
 * against the device limits (the WebGPU defaults unless overridden), so an
 * emitted model is known to fit before it ever meets a device.
 */
import { type Graph, RefoldError } from "../../ir/mod.ts";
import { planProgram, type TargetCaps } from "../plan/mod.ts";
import { assignBuffers, type Assignment } from "./buffers.ts";
import { type GpuLimits, PLAN_ELEMENT_BYTES, resolveLimits } from "./limits.ts";
import { planDispatches, renderKernel } from "./render.ts";
import type { BindingPlan, KernelPlan, Plan, RequiredLimits } from "./runtime/plan.ts";
import { type Scheduled, scheduleWebGpu } from "./schedule.ts";
import type { Storage } from "./kernels/shader.ts";
import { layoutPages, type PageLayout, type WeightEntry } from "./weights.ts";

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
  /** Each weight entry and its first element in `weights`. */
  readonly entries: readonly { readonly entry: WeightEntry; readonly at: number }[];
  readonly stats: {
    readonly kernels: number;
    readonly dispatches: number;
    readonly activationBytes: number;
    readonly weightBytes: number;
    readonly splitLayers: number;
  };
}

/**
 * What WGSL kernels address: any number of view layers (offset functions
 * divide through each), prologues in every GEMM, indexed windows, and at
 * most maxStorageBuffersPerShaderStage bindings per kernel.
 */
export function webgpuCaps(limits: GpuLimits): TargetCaps {
  return {
    name: "webgpu",
    maxBindings: limits.maxStorageBuffersPerShaderStage,
    prologue: new Set(["linear", "conv"]),
    viewLayers: Infinity,
    stridedWindows: false,
  };
}

/** Renders every kernel, deduplicating shaders by text; checks bindings and workgroup memory. */
function renderAll(scheduled: Scheduled, bufferOf: readonly number[], limits: GpuLimits) {
  const { values, kernels, weights } = scheduled;
  const shaders: string[] = [];
  const shaderIndex = new Map<string, number>();
  const plans: KernelPlan[] = [];
  const storage: Storage = {
    classOf: (ref) => ref.kind === "weight" ? "wt" : values[ref.id].role === "act" ? "act" : "f32",
    refOf: (value) =>
      value.kind === "weight" ? weights.raw(value) : { kind: "value", id: value.id },
  };
  for (const spec of kernels) {
    const outClass = values[spec.out.id].role === "act" ? "act" : "f32";
    const rendered = renderKernel(spec, storage, outClass);
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
    plans.push({
      label: spec.label,
      shader,
      bindings,
      dispatches: planDispatches(rendered.workgroups, limits.maxComputeWorkgroupsPerDimension),
      workgroupStorage: rendered.workgroupStorage,
    });
  }
  const storageBytes = Math.max(0, ...plans.map((plan) => plan.workgroupStorage));
  if (storageBytes > limits.maxComputeWorkgroupStorageSize) {
    throw new RefoldError(
      `webgpu: kernels need ${storageBytes} bytes of workgroup memory, over ` +
        `maxComputeWorkgroupStorageSize ${limits.maxComputeWorkgroupStorageSize}`,
    );
  }
  return { shaders, kernels: plans };
}

/** The weight entries laid out page after page in one array, and where each starts. */
function weightFile(entries: readonly WeightEntry[], layout: PageLayout) {
  const pageStarts: number[] = [];
  let total = 0;
  for (const page of layout.pages) {
    pageStarts.push(total);
    total += page.elements;
  }
  const weights = new Float32Array(total);
  const placed = entries.map((entry, i) => {
    const { page, offset } = layout.placement[i];
    weights.set(entry.data, pageStarts[page] + offset);
    return { entry, at: pageStarts[page] + offset };
  });
  return { weights, entries: placed };
}

/** The limits the plan needs of its device. */
function requiredLimits(
  buffers: Assignment["buffers"],
  entries: readonly WeightEntry[],
  layout: PageLayout,
  kernels: readonly KernelPlan[],
): RequiredLimits {
  const largest = (sizes: number[]) => Math.max(0, ...sizes) * PLAN_ELEMENT_BYTES;
  const bufferSizes = buffers.map((buffer) => buffer.elements);
  return {
    maxStorageBufferBindingSize: largest([...bufferSizes, ...entries.map((e) => e.data.length)]),
    maxBufferSize: largest([...bufferSizes, ...layout.pages.map((page) => page.elements)]),
    maxStorageBuffersPerShaderStage: Math.max(0, ...kernels.map((k) => k.bindings.length)),
    maxComputeWorkgroupsPerDimension: Math.max(
      1,
      ...kernels.flatMap((k) => k.dispatches.flatMap((dispatch) => dispatch.size)),
    ),
    maxComputeWorkgroupStorageSize: Math.max(0, ...kernels.map((k) => k.workgroupStorage)),
  };
}

/** Plans `graph` for WebGPU. */
export function planWebGpu(graph: Graph, options: PlanOptions = {}): CompiledPlan {
  const limits = resolveLimits(options.limits);
  const program = planProgram(graph, webgpuCaps(limits));
  const scheduled = scheduleWebGpu(program, limits);
  const { buffers, bufferOf } = assignBuffers(scheduled.values, scheduled.kernels);
  const rendered = renderAll(scheduled, bufferOf, limits);
  const entries = scheduled.weights.entries;
  const layout = layoutPages(entries, limits);
  const port = (p: Scheduled["inputs"][number]) => ({
    name: p.name,
    shape: p.shape,
    buffer: bufferOf[p.value],
  });
  const plan: Plan = {
    name: graph.name,
    f16: options.f16 ?? false,
    inputs: scheduled.inputs.map(port),
    outputs: scheduled.outputs.map(port),
    buffers,
    pages: layout.pages.map((page) => page.elements),
    entries: entries.map((entry, i) => ({ ...layout.placement[i], elements: entry.data.length })),
    shaders: rendered.shaders,
    kernels: rendered.kernels,
    limits: requiredLimits(buffers, entries, layout, rendered.kernels),
  };
  const split = new Set(
    scheduled.kernels.filter((k) => k.kind === "gemm" && k.label.includes("[part ")).map(
      (k) => k.out.id,
    ),
  );
  return {
    plan: JSON.parse(JSON.stringify(plan)),
    ...weightFile(entries, layout),
    stats: {
      kernels: scheduled.kernels.length,
      dispatches: rendered.kernels.reduce((sum, kernel) => sum + kernel.dispatches.length, 0),
      activationBytes: buffers.reduce((sum, b) => sum + b.elements, 0) * PLAN_ELEMENT_BYTES,
      weightBytes: entries.reduce((sum, e) => sum + e.data.length, 0) * PLAN_ELEMENT_BYTES,
      splitLayers: split.size,
    },
  };
}
