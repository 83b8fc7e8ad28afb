/**
 * The targets refold writes, by name. Each honours docs/module-contract.md
 * (except onnx, which writes the deployed graph as model.onnx).
 */
import type { Backend } from "./backend.ts";
import { jsBackend } from "./js/mod.ts";
import { onnxBackend } from "./onnx/mod.ts";
import { wasmBackend } from "./wasm/mod.ts";
import { webgpuBackend } from "./webgpu/mod.ts";

export type { Backend, EmitOptions, EmitResult, EmittedFile, WeightReport } from "./backend.ts";
export { onnxBackend };

/** Every target by name. */
export const BACKENDS: Readonly<Record<string, Backend>> = {
  js: jsBackend,
  wasm: wasmBackend,
  webgpu: webgpuBackend,
  onnx: onnxBackend,
};
