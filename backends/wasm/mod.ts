/**
 * The WebAssembly SIMD backend (`--target wasm`): the deployed graph as one
 * self-contained model.js (runtime, plan and both wasm modules inlined),
 * model.d.ts and weights.bin (embedded when small). See lower.ts for how the
 * graph becomes kernels and kernels/ for the code they compile to.
 */
import type { Backend, EmitOptions, EmitResult } from "../backend.ts";
import type { Graph } from "../../ir/mod.ts";
import { storedWeights } from "../weight_file.ts";
import { toBase64 } from "../weights.ts";
import { bundleModel, declarations } from "./bundle.ts";
import { type CompiledModel, compileModel } from "./compile.ts";
import { storeWasmWeights } from "./stored_weights.ts";

export { compileModel } from "./compile.ts";
export type { CompiledModel } from "./compile.ts";

const DEFAULT_INLINE_LIMIT = 64 * 1024;

async function emit(graph: Graph, options: EmitOptions = {}): Promise<EmitResult> {
  const quantize = options.quantize === "int8"
    ? {
      ...(options.quantizeSkip ? { skip: options.quantizeSkip } : {}),
      ...(options.quantizeMinMacs !== undefined ? { minMacs: options.quantizeMinMacs } : {}),
      first: options.quantizeFirst ?? false,
    }
    : undefined;
  // A RefoldError here is the user's (a tensor too large for wasm memory, an unknown
  // --quantize-skip name); anything else is a bug in the backend and must reach the CLI as an
  // internal error (exit 70), not exit 1.
  const compiled = compileModel(graph, { quantize });
  const storage = storeWasmWeights(graph, compiled, options.weightDType);
  const stored = storage?.file;
  const weights = stored?.bytes ?? compiled.weights;
  const inline = weights.byteLength <= (options.inlineWeightLimit ?? DEFAULT_INLINE_LIMIT);
  const spec = stored && storedWeights(stored, inline ? toBase64(weights) : undefined);
  const files = [
    { path: "model.js", contents: await bundleModel(compiled, inline && !stored, spec) },
    { path: "model.d.ts", contents: declarations(compiled) },
    ...(inline ? [] : [{ path: "weights.bin", contents: weights }]),
  ];
  const weightNote = inline
    ? `weights: ${weights.byteLength} bytes, embedded in model.js`
    : `weights: ${weights.byteLength} bytes in weights.bin`;
  const f16Note = options.f16
    ? ["f16: not used by the wasm target; weights and activations stay float32"]
    : [];
  return {
    files,
    notes: [...compiled.notes, ...int8Notes(compiled.int8), weightNote, ...f16Note],
    ...(storage ? { weights: storage.report } : {}),
  };
}

/** What --quantize int8 decided: how many GEMMs compute in int8, and why the others do not. */
function int8Notes(decisions: CompiledModel["int8"]): string[] {
  if (!decisions) return [];
  const int8 = decisions.filter((decision) => decision.int8);
  const macs = (list: typeof decisions) => list.reduce((sum, d) => sum + d.macs, 0);
  const share = macs(decisions) > 0 ? (100 * macs(int8)) / macs(decisions) : 0;
  const kept = decisions.filter((decision) => !decision.int8);
  const reasons = kept.slice(0, 6).map((d) => `${JSON.stringify(d.name)}: ${d.reason}`);
  return [
    `int8 compute: ${int8.length} of ${decisions.length} GEMMs, ${share.toFixed(1)}% of ` +
    `multiply-adds` + (kept.length > 0 ? `; f32: ${reasons.join("; ")}` : "") +
    (kept.length > 6 ? `; and ${kept.length - 6} more` : ""),
  ];
}

/** The wasm target. */
export const wasmBackend: Backend = { name: "wasm", emit };
