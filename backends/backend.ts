/**
 * The backend contract. A backend turns a deployed graph into the files of
 * an ES module directory honouring docs/module-contract.md. Backends never
 * import compiler passes; they get the graph after the pipeline ran.
 */
import type { Graph, StorageError, WeightDType } from "../ir/mod.ts";

/** One file a backend writes into the output directory. */
export interface EmittedFile {
  /** Path relative to the output directory, e.g. "model.js" or "weights.bin". */
  readonly path: string;
  readonly contents: string | Uint8Array;
}

/** Options every backend accepts; backends ignore those that do not apply. */
export interface EmitOptions {
  /** Store weights and activations as f16 (WebGPU with shader-f16 only). */
  readonly f16?: boolean;
  /** Embed weights in model.js when they total at most this many bytes (default 64 KiB). */
  readonly inlineWeightLimit?: number;
  /**
   * How weights are stored (default f32): f16, or int8 kernels with one scale
   * per output channel (ir/weight_storage.ts); targets computing in f32 widen
   * them at load.
   */
  readonly weightDType?: WeightDType;
  /** Compute linear and conv2d layers in int8 (onnx: dynamic quantization; wasm: int8 GEMMs). */
  readonly quantize?: "int8";
  /** wasm, with quantize: names of weights whose layers stay f32. */
  readonly quantizeSkip?: readonly string[];
  /** wasm, with quantize: GEMMs with fewer multiply-adds per run stay f32 (plan/quantize.ts). */
  readonly quantizeMinMacs?: number;
  /** wasm, with quantize: quantize layers that read a graph input too (default: f32). */
  readonly quantizeFirst?: boolean;
}

/** The stored weights: their dtype, their bytes, and what storing them so costs in accuracy. */
export interface WeightReport {
  /** The dtypes weights are stored in, most bytes first (int8 leaves biases f32). */
  readonly dtypes: readonly WeightDType[];
  /** Bytes of the stored weights. */
  readonly bytes: number;
  /** Bytes of the same weights as f32. */
  readonly f32Bytes: number;
  /** The worst per-output-channel relative error of a stored weight. */
  readonly error: StorageError;
}

/** What a backend reports alongside its files (shown in the CLI summary). */
export interface EmitResult {
  readonly files: readonly EmittedFile[];
  /** Lines for the CLI summary, such as peak activation memory. */
  readonly notes: readonly string[];
  /** Present when weights are stored narrower than f32 or computed in int8. */
  readonly weights?: WeightReport;
}

/** A code generator for one target. */
export interface Backend {
  readonly name: string;
  emit(graph: Graph, options?: EmitOptions): Promise<EmitResult>;
}
