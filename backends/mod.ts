/**
 * The targets refold writes, by name. Each honours docs/module-contract.md
 * (except onnx, which writes the deployed graph as model.onnx).
 */
import { exportOnnx } from "../formats/onnx/mod.ts";
import type { Backend } from "./backend.ts";
import { jsBackend } from "./js/mod.ts";
import { wasmBackend } from "./wasm/mod.ts";
import { webgpuBackend } from "./webgpu/mod.ts";

export type { Backend, EmitOptions, EmitResult, EmittedFile } from "./backend.ts";

/** Writes the deployed graph as ONNX, for users who run it elsewhere. */
export const onnxBackend: Backend = {
  name: "onnx",
  emit(graph) {
    const bytes = exportOnnx(graph);
    return Promise.resolve({ files: [{ path: "model.onnx", contents: bytes }], notes: [] });
  },
};

/** Every target by name. */
export const BACKENDS: Readonly<Record<string, Backend>> = {
  js: jsBackend,
  wasm: wasmBackend,
  webgpu: webgpuBackend,
  onnx: onnxBackend,
};
