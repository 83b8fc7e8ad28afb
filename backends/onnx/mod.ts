/**
 * The onnx target (`--target onnx`): the deployed graph as model.onnx, for
 * users who run it elsewhere, with weights stored as `--weight-dtype` says
 * and, with `--quantize int8`, the large layers computed in int8
 * (formats/onnx/export_weights.ts, export_quantized.ts).
 */
import { DEFAULT_MIN_QUANTIZED_WEIGHTS, writeOnnx } from "../../formats/onnx/mod.ts";
import { storedBytes } from "../../ir/mod.ts";
import type { Backend } from "../backend.ts";
import { weightReport } from "../weight_file.ts";

/** Writes the deployed graph as ONNX. */
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
    const notes = quantize
      ? [
        `int8 compute: ${exported.quantizedLayers} linear/conv2d layers (DynamicQuantizeLinear + ` +
        `MatMulInteger/ConvInteger); kernels under ${DEFAULT_MIN_QUANTIZED_WEIGHTS} weights stay f32`,
      ]
      : [];
    return Promise.resolve({
      files,
      notes,
      weights: weightReport(exported.storage, { bytes, f32Bytes }),
    });
  },
};
