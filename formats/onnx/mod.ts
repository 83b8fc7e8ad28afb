/**
 * ONNX in and out: `importOnnx`/`loadOnnx` turn a (training-time) model
 * exported by torch.onnx.export into an IR graph; `exportOnnx` writes a
 * (deployed) IR graph as an ONNX model for other runtimes.
 */
export { importOnnx, type ImportOptions, loadOnnx, MAPPERS, OPSET_RANGE } from "./import.ts";
export { exportOnnx, type ExportOptions } from "./export.ts";
export { MAX_FOLDED_TOTAL } from "./context.ts";
