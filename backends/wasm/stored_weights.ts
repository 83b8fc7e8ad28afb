/**
 * The wasm target's weights.bin under `--weight-dtype` and `--quantize int8`,
 * and their report. compile.ts lays the file out as the f32 weights, then
 * the int8 GEMM weights packed at compile time (already int8: they stay as
 * they are). `--weight-dtype f16` stores the f32 part as halves; `int8`
 * stores the kernels of f32 GEMMs (weights read only as a constant GEMM
 * weight, one scale per output channel as ir/weight_storage.ts's rule) as
 * int8 and the rest as f32. Narrow files are widened at load by the shared
 * codec (runtime/weight_codec.ts), the int8 GEMM bytes passing through it
 * untouched as an "f32" stretch.
 */
import {
  type Graph,
  planWeightStorage,
  roundTrip,
  rowError,
  type StorageError,
  type WeightDType,
  worstStorageError,
} from "../../ir/mod.ts";
import { loadsOf, type Value } from "../plan/mod.ts";
import type { WeightReport } from "../backend.ts";
import { encodeWeightFile, type StoredFile, type StoredRegion } from "../weight_file.ts";
import type { CompiledModel } from "./compile.ts";

/** Values read only as the constant weight of f32 GEMMs: stored int8 per output channel. */
function f32Kernels(compiled: CompiledModel): Set<Value> {
  const kernels = new Set<Value>(), other = new Set<Value>();
  for (const kernel of compiled.program.kernels) {
    const exprs = [kernel.epilogue];
    if (kernel.kind === "gemm") {
      exprs.push(kernel.a);
      if (kernel.w.kind === "constant" && kernel.arithmetic === "f32") kernels.add(kernel.w.value);
      if (kernel.w.kind === "computed") other.add(kernel.w.operand.value);
    }
    if (kernel.kind === "pool") other.add(kernel.x.value);
    for (const expr of exprs) for (const leaf of loadsOf(expr)) other.add(leaf.operand.value);
  }
  for (const value of other) kernels.delete(value);
  return kernels;
}

/** The regions of weights.bin under `dtype`. */
function regionsOf(compiled: CompiledModel, dtype: WeightDType): StoredRegion[] {
  const kernels = dtype === "int8" ? f32Kernels(compiled) : new Set<Value>();
  const regions: StoredRegion[] = [];
  const sorted = [...compiled.layout.values].sort((a, b) => a.at - b.at);
  for (const { value, at } of sorted) {
    const stored: WeightDType = kernels.has(value) ? "int8" : dtype === "f16" ? "f16" : "f32";
    const last = regions[regions.length - 1];
    if (last && stored !== "int8" && last.dtype === stored && last.at + last.length === at) {
      regions[regions.length - 1] = { ...last, length: last.length + value.size };
    } else {
      regions.push({ at, length: value.size, dtype: stored, rows: value.shape[0] });
    }
  }
  const { floats, int8Bytes } = compiled.layout;
  if (int8Bytes > 0) regions.push({ at: floats, length: int8Bytes / 4, dtype: "f32", rows: 1 });
  return regions;
}

/** The worst per-channel error of the int8 GEMMs' weights (quantized at compile time). */
function int8ComputeError(compiled: CompiledModel): StorageError {
  let worst: StorageError = { error: 0, weight: "", channel: 0, channels: 1 };
  const seen = new Set<Value>();
  for (const kernel of compiled.program.kernels) {
    if (kernel.kind !== "gemm" || kernel.arithmetic !== "int8") continue;
    if (kernel.w.kind !== "constant" || seen.has(kernel.w.value)) continue;
    const value = kernel.w.value;
    seen.add(value);
    const rows = value.shape[0];
    const measured = rowError(value.data!, roundTrip(value.data!, "int8", rows), rows);
    if (measured.error > worst.error || worst.weight === "") {
      const weight = value.name ?? value.label;
      worst = { error: measured.error, weight, channel: measured.row, channels: rows };
    }
  }
  return worst;
}

/** Bytes of the weights as f32: the f32 part plus what the int8 GEMM weights would take. */
function f32BytesOf(compiled: CompiledModel): number {
  let bytes = compiled.layout.floats * 4;
  const seen = new Set<Value>();
  for (const kernel of compiled.program.kernels) {
    if (kernel.kind !== "gemm" || kernel.arithmetic !== "int8") continue;
    if (kernel.w.kind === "constant" && !seen.has(kernel.w.value)) {
      seen.add(kernel.w.value);
      bytes += kernel.w.value.size * 4;
    }
  }
  return bytes;
}

/**
 * weights.bin stored as `dtype` (f16 or int8; undefined: as compiled) and the
 * report, or undefined when the file is plain f32 with no int8 GEMM.
 */
export function storeWasmWeights(
  graph: Graph,
  compiled: CompiledModel,
  dtype: WeightDType | undefined,
): { file?: StoredFile; report: WeightReport } | undefined {
  const narrow = dtype === "f16" || dtype === "int8";
  const quantized = compiled.layout.int8Bytes > 0;
  if (!narrow && !quantized) return undefined;
  const errors: StorageError[] = [];
  if (quantized) errors.push(int8ComputeError(compiled));
  if (narrow) errors.push(worstStorageError(planWeightStorage(graph, dtype)));
  const error = errors.reduce((a, b) => (b.error > a.error ? b : a));
  const f32Bytes = f32BytesOf(compiled);
  const dtypes: WeightDType[] = [];
  if (quantized || dtype === "int8") dtypes.push("int8");
  dtypes.push(dtype === "f16" ? "f16" : "f32");
  if (!narrow) {
    return { report: { dtypes, bytes: compiled.weights.byteLength, f32Bytes, error } };
  }
  const { weights } = compiled;
  const floats = new Float32Array(weights.buffer, weights.byteOffset, weights.byteLength / 4);
  const encoded = encodeWeightFile(floats, regionsOf(compiled, dtype));
  const report = { dtypes, bytes: encoded.bytes.byteLength, f32Bytes, error };
  return { file: { ...encoded, report }, report };
}
