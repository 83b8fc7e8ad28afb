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
 * From a PyTorch checkpoint (torch.save .pth, safetensors), no Python needed:
 *
 * ```ts
 * import { buildArch, compileGraph, loadCheckpoint } from "./mod.ts";
 * const checkpoint = await loadCheckpoint(await Deno.readFile("RepMLPNet-T224.pth"));
 * const { graph } = await buildArch("RepMLPNet-T224", { batch: 1, weights: checkpoint });
 * const { files } = await compileGraph(graph, { target: "wasm" });
 * ```
 *
 * The pieces are exported too: the IR (builder, text form, interpreter), the
 * pass pipeline, the model formats, the checkpoint readers, the architecture
 * registry and the backends.
 * @module
 */
import { BACKENDS, type EmitResult } from "./backends/mod.ts";
import { type ArchDefinition, buildArch } from "./arch/mod.ts";
import { type PassReport, PIPELINE, type PipelineOptions, runPipeline } from "./compiler/mod.ts";
import { loadModelFile, openCheckpoint } from "./formats/mod.ts";
import { type Graph, verifyGraph, type WeightDType } from "./ir/mod.ts";

export * from "./ir/mod.ts";
export { PIPELINE, runPipeline } from "./compiler/mod.ts";
export type { Pass, PassContext, PassReport, PipelineOptions } from "./compiler/mod.ts";
export {
  type Checkpoint,
  type CheckpointTensor,
  exportOnnx,
  importOnnx,
  loadCheckpoint,
  loadModel,
  loadModelFile,
  loadOnnx,
  openCheckpoint,
  parseModel,
  readSafetensors,
  writeModel,
  writeSafetensors,
} from "./formats/mod.ts";
export {
  type ArchBuild,
  type ArchDefinition,
  ARCHITECTURES,
  type ArchLayout,
  buildArch,
  type BuildArchOptions,
  findArch,
  mobileoneArch,
  repvggArch,
} from "./arch/mod.ts";
export {
  MOBILEONE_CONFIGS,
  type MobileoneConfig,
  REPVGG_CONFIGS,
  type RepvggConfig,
} from "./examples/mod.ts";
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
  /**
   * compileFile: the file is a checkpoint (.pth, .safetensors, a shard folder) of this
   * registered architecture (see docs/checkpoints.md), or of a custom config of a registered
   * family (`repvggArch(name, description, config)`, `mobileoneArch(...)`); passes its layout
   * has nothing for are skipped unless `passes` is given.
   */
  readonly arch?: string | ArchDefinition;
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

/**
 * Loads model.json or .onnx from `path` (or, with `arch`, a checkpoint of that
 * architecture), then compiles it like compileGraph.
 */
export async function compileFile(
  path: string,
  options: CompileOptions = {},
): Promise<CompileResult> {
  if (!options.arch) {
    return await compileGraph(await loadModelFile(path, { batch: options.batch }), options);
  }
  const checkpoint = await openCheckpoint(path);
  let built;
  try {
    built = await buildArch(options.arch, { batch: options.batch, weights: checkpoint });
  } finally {
    checkpoint.close();
  }
  const passes = options.passes ??
    PIPELINE.map((pass) => pass.name).filter((name) => !built.skipPasses.includes(name));
  return await compileGraph(built.graph, { ...options, passes });
}
