/**
 * What an architecture of the registry is: an official name and the key
 * layouts its checkpoints come in (the training-time module, the converted
 * deploy-time one, another library's names for the same network), each with
 * the builder that makes the training-time graph from weights under those keys.
 */
import type { BuildOptions } from "../examples/mod.ts";
import type { Graph } from "../ir/mod.ts";

/** One key layout of an architecture's checkpoints. */
export interface ArchLayout {
  /** What the layout is, for messages: "training", "deploy", "torchvision". */
  readonly name: string;
  /**
   * Builds the graph for checkpoints of this layout. It must take every weight
   * from `options.weights` under its checkpoint key (never seeded: the builders'
   * `Params` enforce that unless asked for `fallback: "seeded"`).
   */
  build(options: BuildOptions): Graph;
  /**
   * Pipeline passes with nothing to do on this layout's graphs (a deploy-form
   * checkpoint has no branches left to merge); the driver skips them.
   * tests/arch/registry_test.ts checks that skipping them changes nothing.
   */
  readonly skipPasses?: readonly string[];
}

/** One architecture of the registry. */
export interface ArchDefinition {
  /** The official name, as `--arch` takes it (matched case-insensitively). */
  readonly name: string;
  /** One line for `--arch list`. */
  readonly description: string;
  /** The layouts a checkpoint is matched against, training form first. */
  readonly layouts: readonly ArchLayout[];
}
