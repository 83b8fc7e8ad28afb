/**
 * The WebAssembly SIMD backend (`--target wasm`): the deployed graph as one
 * self-contained model.js (runtime, plan and both wasm modules inlined),
 * model.d.ts and weights.bin (embedded when small). See lower.ts for how the
 * graph becomes kernels and kernels/ for the code they compile to.
 */
import type { Backend, EmitOptions, EmitResult } from "../backend.ts";
import type { Graph } from "../../ir/mod.ts";
import { RefoldError } from "../../ir/mod.ts";
import { storeAllAsHalves, storedWeights } from "../weight_file.ts";
import { toBase64 } from "../weights.ts";
import { bundleModel, declarations } from "./bundle.ts";
import { compileModel } from "./compile.ts";

export { compileModel } from "./compile.ts";
export type { CompiledModel } from "./compile.ts";

const DEFAULT_INLINE_LIMIT = 64 * 1024;

async function emit(graph: Graph, options: EmitOptions = {}): Promise<EmitResult> {
  checkSupported(options);
  // A RefoldError here is the user's (a tensor too large for wasm memory); anything else is a
  // bug in the backend and must reach the CLI as an internal error (exit 70), not exit 1.
  const compiled = compileModel(graph);
  // f16 storage needs no knowledge of the layout: the whole f32 file is stored as halves.
  const stored = options.weightDType === "f16"
    ? storeAllAsHalves(graph, floatsOf(compiled.weights))
    : undefined;
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
    notes: [...compiled.notes, weightNote, ...f16Note],
    ...(stored ? { weights: stored.report } : {}),
  };
}

function floatsOf(bytes: Uint8Array): Float32Array {
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

/** int8 weights need the output channels of each stretch of this target's layout: not yet. */
function checkSupported(options: EmitOptions): void {
  if (options.weightDType === "int8" || options.quantize) {
    const flag = options.quantize ? "--quantize int8" : "--weight-dtype int8";
    throw new RefoldError(`${flag} is not supported by --target wasm yet`);
  }
}

/** The wasm target. */
export const wasmBackend: Backend = { name: "wasm", emit };
