/**
 * WAT text -> validated wasm bytes, with binaryen (npm "binaryen").
 *
 * Why binaryen rather than wabt: it is already pinned in deno.json and
 * maintained by the WebAssembly toolchain team; it parses the standard text
 * format including SIMD128, relaxed-simd and bulk memory; it validates with
 * a real type checker (bad generated code fails at compile time with a
 * message, not at load); and its optimizer folds the generators' constant
 * address arithmetic. Relaxed ops survive optimization once the feature is
 * enabled (tests/wasm/golden_test.ts checks the bytes). wabt would be a new
 * dependency and only assembles: no optimizer.
 *
 * Only a few cheap passes run: on RepMLP-Res50-Light, binaryen's full -O2
 * took 1.4-3 s per module for 20% fewer bytes and no measurable speed (V8's
 * TurboFan optimizes the hot loops itself); these passes take under 0.1 s.
 */
// deno-lint-ignore no-import-prefix -- versioned here so that refold runs outside its checkout (docs/cli.md)
import binaryen from "npm:binaryen@132.0.0";

/** Features the generated modules use. */
const FEATURES = binaryen.Features.MVP | binaryen.Features.SIMD128 |
  binaryen.Features.RelaxedSIMD | binaryen.Features.BulkMemory |
  binaryen.Features.BulkMemoryOpt | binaryen.Features.MutableGlobals |
  binaryen.Features.SignExt | binaryen.Features.NontrappingFPToInt;

/** Constant folding and local cleanup: what generated code needs, cheaply. */
const PASSES = [
  "precompute-propagate",
  "optimize-instructions",
  "simplify-locals",
  "vacuum",
  "reorder-locals",
];

/** Options of `assemble`. */
export interface AssembleOptions {
  /** Run binaryen's cleanup passes (default true). */
  readonly optimize?: boolean;
  /** Enable atomics and shared memory (the threaded modules). */
  readonly threads?: boolean;
}

/** Parses, validates and (by default) optimizes WAT; throws naming the problem. */
export function assemble(wat: string, options: AssembleOptions = {}): Uint8Array {
  let module: ReturnType<typeof binaryen.parseText>;
  try {
    module = binaryen.parseText(wat);
  } catch (error) {
    throw new Error(`wasm backend: generated WAT does not parse: ${(error as Error).message}`);
  }
  try {
    module.setFeatures(options.threads ? FEATURES | binaryen.Features.Atomics : FEATURES);
    if (!module.validate()) throw new Error("wasm backend: generated module does not validate");
    if (options.optimize ?? true) module.runPasses(PASSES);
    return module.emitBinary();
  } finally {
    module.dispose();
  }
}
