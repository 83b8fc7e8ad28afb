/**
 * The targets refold writes, by name. Each honours docs/module-contract.md
 * (except onnx, which writes the deployed graph as model.onnx).
 */
import type { Backend, EmittedFile } from "./backend.ts";
import { jsBackend } from "./js/mod.ts";
import { onnxBackend } from "./onnx/mod.ts";
import { wasmBackend } from "./wasm/mod.ts";
import { webgpuBackend } from "./webgpu/mod.ts";

export type { Backend, EmitOptions, EmitResult, EmittedFile, WeightReport } from "./backend.ts";
export { onnxBackend };

/**
 * The package.json of a module directory. It makes Node load model.js as an
 * ES module in every version from 18 on, without module-syntax detection
 * (Node 20.19+/22.7+ only), and tells bundlers model.js has no side effects.
 */
export const MODULE_PACKAGE_JSON: EmittedFile = {
  path: "package.json",
  contents: JSON.stringify({ type: "module", sideEffects: false, types: "./model.d.ts" }, null, 2) +
    "\n",
};

/** A module target whose directory also holds MODULE_PACKAGE_JSON. */
function moduleDirectory(backend: Backend): Backend {
  return {
    name: backend.name,
    async emit(graph, options) {
      const result = await backend.emit(graph, options);
      return { ...result, files: [...result.files, MODULE_PACKAGE_JSON] };
    },
  };
}

/** Every target by name. */
export const BACKENDS: Readonly<Record<string, Backend>> = {
  js: moduleDirectory(jsBackend),
  wasm: moduleDirectory(wasmBackend),
  webgpu: moduleDirectory(webgpuBackend),
  onnx: onnxBackend,
};
