/**
 * buildArch: an architecture's training-time graph with every weight from a
 * checkpoint. The checkpoint is matched against each of the architecture's
 * layouts (training, deploy, ...); the best match must fit strictly (see
 * ./strict.ts) before a single value is read, and only the tensors the graph
 * uses are read.
 */
import type { Checkpoint } from "../formats/mod.ts";
import { type Graph, RefoldError } from "../ir/mod.ts";
import { expectedTensors } from "./expected.ts";
import { ARCHITECTURES, findArch } from "./registry.ts";
import {
  compareStateDict,
  describeMismatch,
  fits,
  matchScore,
  type StateDictMismatch,
} from "./strict.ts";
import type { ArchDefinition, ArchLayout } from "./types.ts";

/** Options of buildArch. */
export interface BuildArchOptions {
  /** Batch size baked into the graph (default 1). */
  readonly batch?: number;
  /**
   * Where every weight comes from: a checkpoint (strict), or `"seeded"` for
   * tests and benchmarks (seeded values, no checkpoint).
   */
  readonly weights: Checkpoint | "seeded";
  /** With `"seeded"`: the layout to build (default: the first, training). */
  readonly layout?: string;
  /** With `"seeded"`: the seed (default 0). */
  readonly seed?: number;
}

/** The graph and how it was made. */
export interface ArchBuild {
  readonly graph: Graph;
  readonly arch: ArchDefinition;
  /** The layout the checkpoint matched. */
  readonly layout: ArchLayout;
  /** Pipeline passes with nothing to do on this graph (see ArchLayout.skipPasses). */
  readonly skipPasses: readonly string[];
}

/** The layout of `arch` that `checkpoint` fits; throws one line naming every mismatch otherwise. */
export function matchLayout(
  arch: ArchDefinition,
  checkpoint: Checkpoint,
): { layout: ArchLayout; expected: Map<string, readonly number[]> } {
  let best: { layout: ArchLayout; mismatch: StateDictMismatch; score: number } | undefined;
  for (const layout of arch.layouts) {
    const expected = expectedTensors(layout);
    const mismatch = compareStateDict(expected, checkpoint.tensors);
    if (fits(mismatch)) return { layout, expected };
    const score = matchScore(mismatch, expected.size);
    if (!best || score > best.score) best = { layout, mismatch, score };
  }
  if (!best) throw new Error(`architecture ${arch.name} is registered without layouts`);
  throw new RefoldError(
    `does not fit ${arch.name} (${best.layout.name} form): ${describeMismatch(best.mismatch)}` +
      otherFit(arch, checkpoint),
    { file: checkpoint.file },
  );
}

/** "; it fits X (training form)" when another registered architecture takes the checkpoint. */
function otherFit(arch: ArchDefinition, checkpoint: Checkpoint): string {
  for (const other of ARCHITECTURES) {
    if (other.name === arch.name) continue;
    for (const layout of other.layouts) {
      if (fits(compareStateDict(expectedTensors(layout), checkpoint.tensors))) {
        return `; it fits ${other.name} (${layout.name} form): use --arch ${other.name}`;
      }
    }
  }
  return "";
}

/**
 * Builds an architecture (a registered name, any case, or a definition) with
 * weights from a checkpoint, read strictly: every parameter and BN buffer
 * present with its shape, every tensor of the checkpoint used
 * (num_batches_tracked aside), else one RefoldError naming what is off.
 */
export async function buildArch(
  name: string | ArchDefinition,
  options: BuildArchOptions,
): Promise<ArchBuild> {
  const arch = typeof name === "string" ? findArch(name) : name;
  const batch = options.batch ?? 1;
  if (options.weights === "seeded") {
    const layout = options.layout === undefined
      ? arch.layouts[0]
      : arch.layouts.find((each) => each.name === options.layout);
    if (!layout) {
      throw new RefoldError(
        `${arch.name} has no layout "${options.layout}" (${
          arch.layouts.map((l) => l.name).join(", ")
        })`,
      );
    }
    const graph = layout.build({ batch, seed: options.seed });
    return { graph, arch, layout, skipPasses: layout.skipPasses ?? [] };
  }
  const checkpoint = options.weights;
  const { layout, expected } = matchLayout(arch, checkpoint);
  const values = await checkpoint.read(expected.keys());
  const graph = layout.build({ batch, weights: (key) => values.get(key) });
  return { graph, arch, layout, skipPasses: layout.skipPasses ?? [] };
}
