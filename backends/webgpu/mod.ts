/**
 * The WebGPU backend (`--target webgpu`): WGSL kernels for a deployed graph,
 * planned against the WebGPU default limits, with runtime glue bundled into
 * one model.js that honours docs/module-contract.md.
 */
import type { Backend, EmitOptions, EmitResult, EmittedFile } from "../backend.ts";
import type { Graph } from "../../ir/mod.ts";
import { planWeightStorage, RefoldError } from "../../ir/mod.ts";
import {
  encodeWeightFile,
  storeAllAsHalves,
  type StoredFile,
  type StoredRegion,
  storedWeights,
  weightReport,
} from "../weight_file.ts";
import { toBase64 } from "../weights.ts";
import { bundleModel, declarations } from "./bundle.ts";
import type { GpuLimits } from "./limits.ts";
import { type CompiledPlan, planWebGpu } from "./plan.ts";
import { encodeHalves } from "./runtime/f16.ts";
import { estimateF16Error } from "./f16_error.ts";

export { DEFAULT_LIMITS, type GpuLimits } from "./limits.ts";
export { type CompiledPlan, type PlanOptions, planWebGpu } from "./plan.ts";
export { createModel, type LoadOptions, type WebGpuModel } from "./runtime/model.ts";
export type { Plan } from "./runtime/plan.ts";

/** Emit options of this backend: the shared ones plus limits to plan against. */
export interface WebGpuEmitOptions extends EmitOptions {
  /** Plan against these limits instead of the WebGPU defaults. */
  readonly limits?: Partial<GpuLimits>;
}

const DEFAULT_INLINE_LIMIT = 64 * 1024;

/** The bytes of the weight file of a compiled plan (f16 or f32, little-endian). */
export function weightFileBytes(compiled: CompiledPlan): Uint8Array {
  const values = compiled.plan.f16 ? encodeHalves(compiled.weights) : compiled.weights;
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** `--target webgpu`. */
export const webgpuBackend: Backend & {
  emit(graph: Graph, options?: WebGpuEmitOptions): Promise<EmitResult>;
} = {
  name: "webgpu",
  async emit(graph: Graph, given: WebGpuEmitOptions = {}): Promise<EmitResult> {
    checkSupported(given);
    // Without int8 compute, --quantize int8 is int8 storage: the same weights.bin savings.
    const options: WebGpuEmitOptions = given.quantize ? { ...given, weightDType: "int8" } : given;
    const compiled = planWebGpu(graph, { f16: options.f16, limits: options.limits });
    const stored = storeNarrow(graph, compiled, options);
    const bytes = stored?.bytes ?? weightFileBytes(compiled);
    const inline = bytes.byteLength <= (options.inlineWeightLimit ?? DEFAULT_INLINE_LIMIT);
    const files: EmittedFile[] = [];
    const embedded = inline ? toBase64(bytes) : undefined;
    // Stored weights are read and widened by load(); the plan then gets them as options.weights.
    // With stored weights, the plan sees the decoded (plan-layout) bytes, never weights.bin itself.
    const placement = embedded !== undefined && !stored ? { embedded } : {
      file: "weights.bin",
      byteLength: stored ? weightFileBytes(compiled).byteLength : bytes.byteLength,
    };
    const spec = stored && storedWeights(stored, embedded);
    files.push({ path: "model.js", contents: await bundleModel(compiled.plan, placement, spec) });
    files.push({ path: "model.d.ts", contents: declarations(compiled.plan) });
    if (!inline) files.push({ path: "weights.bin", contents: bytes });
    const report = stored?.report ?? (compiled.plan.f16 ? halvesReport(graph, bytes) : undefined);
    return {
      files,
      notes: notes(graph, compiled, options),
      ...(report ? { weights: report } : {}),
    };
  },
};

/**
 * int8 compute would need the packed 4x8 integer dot product, which this target does not use
 * yet: --quantize int8 stores the kernels' weights as int8 and computes in f32 (widened at load).
 */
function checkSupported(options: WebGpuEmitOptions): void {
  if (options.quantize && (options.f16 || (options.weightDType ?? "int8") !== "int8")) {
    const other = options.f16 ? "--f16" : `--weight-dtype ${options.weightDType}`;
    throw new RefoldError(
      `--quantize int8 on webgpu stores int8 weights (f32 compute); ${other} contradicts it`,
    );
  }
  if (options.f16 && options.weightDType && options.weightDType !== "f16") {
    throw new RefoldError(
      `--f16 stores weights as f16; --weight-dtype ${options.weightDType} contradicts it`,
    );
  }
}

/**
 * Narrow storage of an f32 plan, widened at load: f16 for the whole file; or
 * int8 for the kernels (ir/weight_storage.ts's rule, matched by weight name),
 * one scale per output channel whether an entry holds the weight as it is
 * or packed [group][k][column] for a GEMM, and f32 for the rest.
 */
function storeNarrow(
  graph: Graph,
  compiled: CompiledPlan,
  options: WebGpuEmitOptions,
): StoredFile | undefined {
  if (compiled.plan.f16) return undefined;
  if (options.weightDType === "f16") return storeAllAsHalves(graph, compiled.weights);
  if (options.weightDType !== "int8") return undefined;
  const storage = planWeightStorage(graph, "int8");
  const kernels = new Set<string>();
  for (const [node, stored] of storage) if (stored.dtype === "int8") kernels.add(node.attrs.name);
  const regions: StoredRegion[] = compiled.entries.map(({ entry, at }) => {
    const { value, data, columns } = entry;
    const length = data.length;
    if (value.name === undefined || !kernels.has(value.name)) {
      return { at, length, dtype: "f32", rows: 1 };
    }
    const k = value.size / value.shape[0];
    return columns
      ? { at, length, dtype: "int8", rows: length / k, columns }
      : { at, length, dtype: "int8", rows: value.shape[0] };
  });
  const file = encodeWeightFile(compiled.weights, regions);
  const sizes = { bytes: file.bytes.byteLength, f32Bytes: compiled.weights.byteLength };
  return { ...file, report: weightReport(storage, sizes) };
}

/** The report of an f16 plan, whose weight file is f16 already. */
function halvesReport(graph: Graph, bytes: Uint8Array) {
  return weightReport(planWeightStorage(graph, "f16"), {
    bytes: bytes.byteLength,
    f32Bytes: bytes.byteLength * 2,
  });
}

function notes(graph: Graph, compiled: CompiledPlan, options: WebGpuEmitOptions): string[] {
  const { plan, stats } = compiled;
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;
  const lines = [
    `${stats.kernels} kernels in ${stats.dispatches} dispatches, ${plan.shaders.length} distinct shaders`,
    `activations ${
      mib(stats.activationBytes)
    } in ${plan.buffers.length} buffers (reused by liveness)`,
    `weights ${mib(stats.weightBytes * (plan.f16 ? 0.5 : 1))} in ${plan.pages.length} page(s)` +
    (plan.f16 ? " as f16" : ""),
  ];
  if (stats.splitLayers > 0) {
    lines.push(`${stats.splitLayers} layer(s) split to fit maxStorageBufferBindingSize`);
  }
  if (options.limits) lines.push(`planned against limits ${JSON.stringify(options.limits)}`);
  if (options.quantize) {
    lines.push(
      "--quantize int8: int8 weight storage, f32 compute (the packed 4x8 integer dot product " +
        "is not used by this target)",
    );
  }
  if (plan.f16) {
    lines.push(
      "f16 storage on devices with shader-f16 (f32 accumulation); elsewhere f32 math on f16 weights",
    );
    const error = estimateF16Error(graph);
    lines.push(
      error === undefined
        ? "f16 error not estimated (graph too large for the CPU reference; see bench/webgpu_bench.ts)"
        : `f16 error vs f32: ${error.toExponential(2)} relative (CPU reference, f16-rounded ` +
          "weights and activations, seeded inputs)",
    );
  }
  return lines;
}
