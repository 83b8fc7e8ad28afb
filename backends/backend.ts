/**
 * The backend contract. A backend turns a deployed graph into the files of
 * an ES module directory honouring docs/module-contract.md. Backends never
 * import compiler passes; they get the graph after the pipeline ran.
 */
import type { Graph } from "../ir/mod.ts";

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
}

/** What a backend reports alongside its files (shown in the CLI summary). */
export interface EmitResult {
  readonly files: readonly EmittedFile[];
  /** Lines for the CLI summary, such as peak activation memory. */
  readonly notes: readonly string[];
}

/** A code generator for one target. */
export interface Backend {
  readonly name: string;
  emit(graph: Graph, options?: EmitOptions): Promise<EmitResult>;
}
