/**
 * The `--arch` path of the driver: open the checkpoint, build the named
 * architecture from it strictly, and say what was found (format, wrapper,
 * layout, and the passes a deploy-form checkpoint lets the pipeline skip).
 */
import { buildArch } from "../arch/mod.ts";
import { PIPELINE } from "../compiler/mod.ts";
import { openCheckpoint } from "../formats/mod.ts";
import { type Graph, RefoldError } from "../ir/mod.ts";
import { join } from "node:path";
import type { CliOptions } from "./args.ts";

/** A training-time graph from a checkpoint, the passes to run, and lines for the report. */
export interface CheckpointModel {
  readonly graph: Graph;
  /** The passes to run: --passes if given, else the pipeline less what the layout skips. */
  readonly passes?: readonly string[];
  readonly notes: readonly string[];
}

/** Model files are compiled without --arch: say so rather than failing inside a reader. */
function refuseModelFiles(path: string, arch: string): void {
  const lower = path.toLowerCase();
  if (lower.endsWith(".onnx") || lower.endsWith(".json") && !lower.endsWith(".index.json")) {
    throw new RefoldError(
      `--arch ${arch} reads checkpoints (.pth, .pt, .safetensors, a folder of shards); ` +
        `compile a model file without --arch`,
      { file: path },
    );
  }
}

/**
 * Loads `options.model` as a checkpoint of `options.arch`; pushes the files it reads (the
 * checkpoint, or every file of a shard folder) onto `read`, so that --out never replaces them.
 */
export async function loadCheckpointModel(
  options: CliOptions,
  read: string[] = [],
): Promise<CheckpointModel> {
  const arch = options.arch!;
  refuseModelFiles(options.model, arch);
  const checkpoint = await openCheckpoint(options.model);
  read.push(options.model);
  if (Deno.statSync(options.model).isDirectory) {
    for (const entry of Deno.readDirSync(options.model)) read.push(join(options.model, entry.name));
  }
  try {
    const built = await buildArch(arch, { batch: options.batch, weights: checkpoint });
    // In pipeline order, each once.
    const skipped = [...new Set(PIPELINE.map((pass) => pass.name))]
      .filter((name) => built.skipPasses.includes(name));
    const passes = options.passes ??
      (skipped.length > 0
        ? PIPELINE.map((pass) => pass.name).filter((name) => !skipped.includes(name))
        : undefined);
    const notes = [
      `${checkpoint.format}: ${checkpoint.wrapper}; ${checkpoint.tensors.size} tensors`,
      `${built.arch.name}, ${built.layout.name} form`,
    ];
    if (skipped.length > 0 && !options.passes) {
      notes.push(`skipped (nothing to do in ${built.layout.name} form): ${skipped.join(", ")}`);
    }
    return { graph: built.graph, passes, notes };
  } finally {
    checkpoint.close();
  }
}
