/**
 * The WebAssembly SIMD backend (`--target wasm`): the deployed graph as one
 * self-contained model.js (runtime, plan and both wasm modules inlined),
 * model.d.ts and weights.bin (embedded when small). See lower.ts for how the
 * graph becomes kernels and kernels/ for the code they compile to.
 */
import type { Backend, EmitOptions, EmitResult } from "../backend.ts";
import type { Graph } from "../../ir/mod.ts";
import { bundleModel, declarations } from "./bundle.ts";
import { compileModel } from "./compile.ts";

export { compileModel } from "./compile.ts";
export type { CompiledModel } from "./compile.ts";

const DEFAULT_INLINE_LIMIT = 64 * 1024;

async function emit(graph: Graph, options: EmitOptions = {}): Promise<EmitResult> {
  // A RefoldError here is the user's (a tensor too large for wasm memory); anything else is a
  // bug in the backend and must reach the CLI as an internal error (exit 70), not exit 1.
  const compiled = compileModel(graph);
  const inline = compiled.weights.byteLength <= (options.inlineWeightLimit ?? DEFAULT_INLINE_LIMIT);
  const files = [
    { path: "model.js", contents: await bundleModel(compiled, inline) },
    { path: "model.d.ts", contents: declarations(compiled) },
    ...(inline ? [] : [{ path: "weights.bin", contents: compiled.weights }]),
  ];
  const weightNote = inline
    ? `weights: ${compiled.weights.byteLength} bytes, embedded in model.js`
    : `weights: ${compiled.weights.byteLength} bytes in weights.bin`;
  const f16Note = options.f16
    ? ["f16: not used by the wasm target; weights and activations stay float32"]
    : [];
  return { files, notes: [...compiled.notes, weightNote, ...f16Note] };
}

/** The wasm target. */
export const wasmBackend: Backend = { name: "wasm", emit };
