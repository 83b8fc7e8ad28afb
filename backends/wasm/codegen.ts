/**
 * One module variant (relaxed-simd or plain SIMD) of a program: generates
 * every kernel twice, first to register what it needs in memory, then, once
 * the memory is laid out, with the real addresses. Running the same
 * generator for both passes keeps sizes and code in agreement by
 * construction.
 */
import { RefoldError } from "../../ir/mod.ts";
import type { ThreadGen } from "./kernels/context.ts";
import { emitKernel, type Variant } from "./kernels/mod.ts";
import { Resources } from "./resources.ts";
import type { Program } from "../plan/mod.ts";
import { addThreadSupport, threadedRun } from "./threads.ts";
import { FuncBuilder, ModuleBuilder, sx } from "./wat.ts";

/** A variant's WAT text, its memory layout and per-kernel function names. */
export interface VariantCode {
  readonly variant: Variant;
  readonly wat: string;
  readonly res: Resources;
  readonly pages: number;
  readonly functions: readonly string[];
  readonly threaded?: ThreadedCode;
}

const PAGE = 65536;
const MAX_PAGES = 65536;

function generate(
  program: Program,
  variant: Variant,
  res: Resources,
  pages: number,
  threads?: ThreadGen,
) {
  const mod = new ModuleBuilder(pages, threads !== undefined);
  for (const { value } of [...program.inputs, ...program.outputs]) res.value(value);
  const functions = program.kernels.map((kernel, index) =>
    emitKernel(kernel, { res, variant, mod, index, threads })
  );
  if (threads) {
    addThreadSupport(mod);
    mod.add(threadedRun(functions, threads.split));
  } else {
    const run = new FuncBuilder("run", "run");
    for (const name of functions) run.emit(sx("call", `$${name}`));
    mod.add(run);
  }
  return { mod, functions };
}

/** The threaded module of a variant: its WAT and per-thread scratch bytes. */
export interface ThreadedCode {
  readonly wat: string;
  readonly scratch: number;
}

/**
 * Generates the module text of `variant` for `program`, and with
 * `threadMinFlops` also the threaded module (same memory layout, so one
 * plan places both), unless no GEMM is worth splitting.
 */
export function generateVariant(
  program: Program,
  variant: Variant,
  options: { threadMinFlops?: number } = {},
): VariantCode {
  const res = new Resources();
  generate(program, variant, res, 1);
  res.layout(program);
  const pages = Math.max(1, Math.ceil(res.size / PAGE));
  if (pages > MAX_PAGES) {
    throw new RefoldError(
      `wasm backend: graph "${program.name}" needs ${Math.ceil(res.size / 2 ** 20)} MiB of ` +
        `linear memory (weights and activations); wasm32 allows 4096 MiB`,
    );
  }
  const { mod, functions } = generate(program, variant, res, pages);
  let threaded: ThreadedCode | undefined;
  if (options.threadMinFlops !== undefined) {
    const threads: ThreadGen = { minFlops: options.threadMinFlops, split: new Map(), scratch: 0 };
    const code = generate(program, variant, res, pages, threads);
    if (threads.split.size > 0) threaded = { wat: code.mod.print(), scratch: threads.scratch };
  }
  return { variant, wat: mod.print(), res, pages, functions, threaded };
}
