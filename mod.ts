/**
 * refold: compiles training-time re-parameterized networks (RepMLP, RepMLPNet,
 * RepMLP-ResNet) into their deployed graphs, and those into ES modules running
 * on WebAssembly SIMD, WebGPU or plain JS.
 *
 * ```ts
 * import { compileFile } from "./mod.ts";
 * const { files } = await compileFile("model.json", { target: "wasm" });
 * ```
 *
 * The pieces are exported too: the IR (builder, text form, interpreter), the
 * pass pipeline, the model formats and the backends.
 * @module
 */
import { BACKENDS, type EmitResult } from "./backends/mod.ts";
import { type PassReport, type PipelineOptions, runPipeline } from "./compiler/mod.ts";
import { loadModelFile } from "./formats/mod.ts";
import { type Graph, verifyGraph, type WeightDType } from "./ir/mod.ts";

export * from "./ir/mod.ts";
export { PIPELINE, runPipeline } from "./compiler/mod.ts";
export type { Pass, PassContext, PassReport, PipelineOptions } from "./compiler/mod.ts";
export {
  exportOnnx,
  importOnnx,
  loadModel,
  loadModelFile,
  loadOnnx,
  parseModel,
  readSafetensors,
  writeModel,
  writeSafetensors,
} from "./formats/mod.ts";
export { BACKENDS } from "./backends/mod.ts";
export type {
  Backend,
  EmitOptions,
  EmitResult,
  EmittedFile,
  WeightReport,
} from "./backends/mod.ts";

/** Options of compileGraph and compileFile. */
export interface CompileOptions extends PipelineOptions {
  /** "js" (default), "wasm", "webgpu" or "onnx". */
  readonly target?: string;
  /** Batch size baked into static shapes when loading a file (default 1). */
  readonly batch?: number;
  /** Store weights and activations as f16 (webgpu). */
  readonly f16?: boolean;
  /** How weights are stored: "f32" (default), "f16", or "int8" (js and onnx). */
  readonly weightDType?: WeightDType;
  /** "int8": compute large linear and conv2d layers in int8 (onnx). */
  readonly quantize?: "int8";
}

/** The deployed graph, what each pass did, and the target's files. */
export interface CompileResult extends EmitResult {
  readonly training: Graph;
  readonly deployed: Graph;
  readonly reports: readonly PassReport[];
}

/** Deploys a training-time graph and generates code for it. */
export async function compileGraph(
  training: Graph,
  options: CompileOptions = {},
): Promise<CompileResult> {
  const target = options.target ?? "js";
  const backend = BACKENDS[target];
  if (!backend) {
    throw new TypeError(`unknown target "${target}"; use one of ${Object.keys(BACKENDS)}`);
  }
  verifyGraph(training, training.name);
  const { graph, reports } = runPipeline(training, options);
  const { f16, weightDType, quantize } = options;
  const emitted = await backend.emit(graph, { f16, weightDType, quantize });
  return { ...emitted, training, deployed: graph, reports };
}

/** Loads model.json or .onnx from `path`, then compiles it like compileGraph. */
export async function compileFile(
  path: string,
  options: CompileOptions = {},
): Promise<CompileResult> {
  return await compileGraph(await loadModelFile(path, { batch: options.batch }), options);
}
