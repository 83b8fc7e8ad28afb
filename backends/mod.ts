/**
 * The targets refold writes, by name. Each honours docs/module-contract.md
 * (except onnx, which writes the deployed graph as model.onnx).
 */
import { DEFAULT_MIN_QUANTIZED_WEIGHTS, writeOnnx } from "../formats/onnx/mod.ts";
import { storedBytes, storedDTypes, worstStorageError } from "../ir/mod.ts";
import type { Backend, WeightReport } from "./backend.ts";
import { jsBackend } from "./js/mod.ts";
import { wasmBackend } from "./wasm/mod.ts";
import { webgpuBackend } from "./webgpu/mod.ts";

export type { Backend, EmitOptions, EmitResult, EmittedFile, WeightReport } from "./backend.ts";

/** Writes the deployed graph as ONNX, for users who run it elsewhere. */
export const onnxBackend: Backend = {
  name: "onnx",
  emit(graph, options = {}) {
    const dtype = options.weightDType ?? "f32";
    const quantize = options.quantize === "int8";
    const exported = writeOnnx(graph, { weightDType: dtype, quantize });
    const files = [{ path: "model.onnx", contents: exported.bytes }];
    if (dtype === "f32" && !quantize) return Promise.resolve({ files, notes: [] });
    let bytes = 0, f32Bytes = 0;
    for (const [node, storage] of exported.storage) {
      bytes += storedBytes(node, storage);
      f32Bytes += 4 * node.data!.length;
    }
    const weights: WeightReport = {
      dtypes: storedDTypes(exported.storage),
      bytes,
      f32Bytes,
      error: worstStorageError(exported.storage),
    };
    const notes = quantize
      ? [
        `int8 compute: ${exported.quantizedLayers} linear/conv2d layers (DynamicQuantizeLinear + ` +
        `MatMulInteger/ConvInteger); kernels under ${DEFAULT_MIN_QUANTIZED_WEIGHTS} weights stay f32`,
      ]
      : [];
    return Promise.resolve({ files, notes, weights });
  },
};

/** Every target by name. */
export const BACKENDS: Readonly<Record<string, Backend>> = {
  js: jsBackend,
  wasm: wasmBackend,
  webgpu: webgpuBackend,
  onnx: onnxBackend,
};
