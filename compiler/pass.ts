/**
 * The pass contract. A pass is a pure graph -> graph function with a name and
 * a one-line summary; it never imports a backend. `explain` records why a
 * rewrite did not fire where a user might expect it to (--explain prints it).
 */
import type { Graph, Node } from "../ir/mod.ts";

/** What a pass may report to the pipeline while it runs. */
export interface PassContext {
  /** Records the guard that stopped a rewrite at `node`. */
  explain(node: Node, reason: string): void;
}

/** One named rewrite of the pipeline. */
export interface Pass {
  /** Kebab-case name used by --dump-after and --explain, e.g. "fold-batchnorm". */
  readonly name: string;
  /** One line saying what the pass does. */
  readonly summary: string;
  /** Returns the rewritten graph; the input graph is left untouched. */
  run(graph: Graph, context: PassContext): Graph;
}
