/// <reference types="npm:@webgpu/types@0.1.74" />
/**
 * Runtime glue: getting a device that can run a plan. The plan states what it
 * needs; a device passed in is checked against that, and a device requested
 * here asks for exactly the limits the plan needs beyond the defaults.
 */
import type { Plan } from "./plan.ts";

/** How a model stores elements on the device it runs on. */
export interface Precision {
  /** Bytes per stored activation element (graph inputs and outputs stay f32). */
  readonly act: 2 | 4;
  /** Bytes per stored weight element. */
  readonly weight: 2 | 4;
  /** The WGSL prelude defining `act`, `wt` and `st`. */
  readonly prelude: string;
  /** "f32", "f16", "f16-weights" (no shader-f16: f32 math on f16-rounded weights), "f16-emulated". */
  readonly name: string;
}

/** The precision a plan runs at on a device with or without shader-f16. */
export function choosePrecision(plan: Plan, hasF16: boolean, emulate = false): Precision {
  if (plan.f16 && hasF16) {
    return {
      act: 2,
      weight: 2,
      name: "f16",
      prelude: "enable f16;\nalias act = f16;\nalias wt = f16;\n" +
        "fn st(v: f32) -> act { return act(v); }\n",
    };
  }
  if (plan.f16 && emulate) {
    // Rounds every stored activation to f16 as a shader-f16 device would.
    return {
      act: 4,
      weight: 4,
      name: "f16-emulated",
      prelude: "alias act = f32;\nalias wt = f32;\n" +
        "fn st(v: f32) -> act { return unpack2x16float(pack2x16float(vec2f(v, 0.0))).x; }\n",
    };
  }
  return {
    act: 4,
    weight: 4,
    name: plan.f16 ? "f16-weights" : "f32",
    prelude: "alias act = f32;\nalias wt = f32;\nfn st(v: f32) -> act { return v; }\n",
  };
}

const DEFAULTS: Record<string, number> = {
  maxStorageBufferBindingSize: 134217728,
  maxBufferSize: 268435456,
  maxStorageBuffersPerShaderStage: 8,
  maxComputeWorkgroupsPerDimension: 65535,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
};

/** The limits a plan needs at a precision, by GPUSupportedLimits name. */
export function neededLimits(plan: Plan, precision: Precision): Record<string, number> {
  const bytes = (role: string) => (role === "act" ? precision.act : 4);
  const buffers = plan.buffers.map((buffer) => buffer.elements * bytes(buffer.role));
  const entries = plan.entries.map((entry) => entry.elements * precision.weight);
  const pages = plan.pages.map((elements) => elements * precision.weight);
  return {
    maxStorageBufferBindingSize: Math.max(4, ...buffers, ...entries),
    maxBufferSize: Math.max(4, ...buffers, ...pages),
    maxStorageBuffersPerShaderStage: plan.limits.maxStorageBuffersPerShaderStage,
    maxComputeWorkgroupsPerDimension: plan.limits.maxComputeWorkgroupsPerDimension,
    maxComputeWorkgroupStorageSize: plan.limits.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: 256,
    maxComputeWorkgroupSizeX: 256,
  };
}

/** Throws when `limits` (a device's or adapter's) fall short of what the plan needs. */
export function checkLimits(
  plan: Plan,
  needed: Record<string, number>,
  limits: Record<string, unknown>,
  what: string,
): void {
  for (const [name, need] of Object.entries(needed)) {
    const have = limits[name];
    if (typeof have === "number" && have < need) {
      throw new Error(
        `refold: model "${plan.name}" needs ${name} >= ${need}, but the ${what} offers ${have}` +
          " (re-emit it with smaller limits to split it further)",
      );
    }
  }
}

/** The device to run on: the caller's (checked), or one requested for the plan's needs. */
export async function acquireDevice(
  plan: Plan,
  given: GPUDevice | undefined,
  emulate: boolean,
): Promise<{ device: GPUDevice; precision: Precision; owned: boolean }> {
  if (given) {
    const precision = choosePrecision(plan, given.features.has("shader-f16"), emulate);
    checkLimits(plan, neededLimits(plan, precision), limitsRecord(given.limits), "device");
    return { device: given, precision, owned: false };
  }
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) {
    throw new Error("refold: WebGPU is not available here (no navigator.gpu); pass a device");
  }
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error("refold: navigator.gpu.requestAdapter() found no adapter");
  const hasF16 = plan.f16 && adapter.features.has("shader-f16");
  const precision = choosePrecision(plan, hasF16, emulate);
  const needed = neededLimits(plan, precision);
  const adapterLimits = limitsRecord(adapter.limits);
  checkLimits(plan, needed, adapterLimits, "adapter");
  // Ask for what the plan needs, and never less than the defaults every device has.
  const requiredLimits: Record<string, number> = {};
  for (const [name, need] of Object.entries(needed)) {
    const have = adapterLimits[name];
    if (typeof have === "number") {
      requiredLimits[name] = Math.min(have, Math.max(need, DEFAULTS[name]));
    }
  }
  const device = await adapter.requestDevice({
    requiredFeatures: hasF16 ? ["shader-f16"] : [],
    requiredLimits,
  });
  return { device, precision, owned: true };
}

function limitsRecord(limits: GPUSupportedLimits): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (const name in limits) record[name] = (limits as unknown as Record<string, unknown>)[name];
  return record;
}
