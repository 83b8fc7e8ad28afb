/**
 * ONNX in and out: `importOnnx`/`loadOnnx` turn a (training-time) model
 * exported by torch.onnx.export into an IR graph; `exportOnnx` writes a
 * (deployed) IR graph as an ONNX model for other runtimes, with weights
 * stored as f32, f16 or int8, and optionally int8 compute (`writeOnnx`).
 */
export { importOnnx, type ImportOptions, loadOnnx, MAPPERS, OPSET_RANGE } from "./import.ts";
export {
  DEFAULT_MIN_QUANTIZED_WEIGHTS,
  exportOnnx,
  type ExportOptions,
  type OnnxExport,
  type QuantizeRule,
  writeOnnx,
} from "./export.ts";
export { MAX_FOLDED_TOTAL } from "./context.ts";
