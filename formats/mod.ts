/**
 * Model formats: model.json + safetensors, and ONNX. `loadModelFile` picks
 * the reader by extension, or by content when the extension says nothing.
 */
import { type Graph, RefoldError } from "../ir/mod.ts";
import { loadModel } from "./model_json/mod.ts";
import { loadOnnx } from "./onnx/mod.ts";

export { loadModel, parseModel, writeModel } from "./model_json/mod.ts";
export { readSafetensors, writeSafetensors } from "./safetensors.ts";
export { exportOnnx, importOnnx, loadOnnx } from "./onnx/mod.ts";
export {
  type Checkpoint,
  type CheckpointTensor,
  FLOAT_DTYPES,
  loadCheckpoint,
  openCheckpoint,
} from "./checkpoint/mod.ts";

/** Options of loadModelFile. */
export interface LoadOptions {
  /**
   * Batch size: model.json's "N" dimension and ONNX's symbolic batch (both 1
   * when absent); it also replaces a batch size baked into an ONNX input,
   * which otherwise stays as declared.
   */
  readonly batch?: number;
  /** Called with the path of every file read: the model, its weights, external data. */
  readonly onFile?: (path: string) => void;
  /** Static shapes of ONNX inputs by name, for symbolic dimensions. */
  readonly inputShapes?: Readonly<Record<string, readonly number[]>>;
}

/** Extensions of files that hold weights but no graph. */
const CHECKPOINT_EXTENSIONS = [".pth", ".pt", ".safetensors", ".ckpt", ".bin"];

/** Loads a model.json or .onnx file as a training-time graph. */
export async function loadModelFile(path: string, options: LoadOptions = {}): Promise<Graph> {
  const lower = path.toLowerCase();
  if (CHECKPOINT_EXTENSIONS.some((extension) => lower.endsWith(extension))) {
    throw new RefoldError(
      "a checkpoint holds weights but no graph: name its architecture with --arch NAME " +
        "(see --arch list and docs/checkpoints.md)",
      { file: path },
    );
  }
  if (lower.endsWith(".json")) return await loadJson(path, options);
  if (lower.endsWith(".onnx")) return await loadOnnx(path, options);
  let head: Uint8Array;
  try {
    // Opening a FIFO would block: only a regular file can be a model.
    if (!(await Deno.stat(path)).isFile) throw new RefoldError("is not a file", { file: path });
    using file = await Deno.open(path);
    head = new Uint8Array(1);
    await file.read(head);
  } catch (error) {
    if (error instanceof RefoldError) throw error;
    if (error instanceof Deno.errors.NotFound) {
      throw new RefoldError("file not found", { file: path });
    }
    throw new RefoldError(`cannot read: ${error instanceof Error ? error.message : error}`, {
      file: path,
    });
  }
  return head[0] === 0x7b ? await loadJson(path, options) : await loadOnnx(path, options);
}

/** model.json's shapes are static but for "N": input shapes are for ONNX only. */
async function loadJson(path: string, options: LoadOptions): Promise<Graph> {
  if (options.inputShapes && Object.keys(options.inputShapes).length > 0) {
    throw new RefoldError(
      "--input-shape applies to ONNX models; model.json inputs are static but for the batch N",
      { file: path },
    );
  }
  return await loadModel(path, { batch: options.batch, onFile: options.onFile });
}
