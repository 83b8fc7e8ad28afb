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
  /**
   * `%9 = conv2d(%8, %3) {...} : f32[...]`: a node of the pass's input graph in
   * IR text, numbered as printGraph numbers it, for use inside explain reasons.
   */
  describe(node: Node): string;
  /**
   * True when `weight`'s buffer was made by an earlier pass of this pipeline
   * run and no other weight shares it, so a pass whose output replaces the
   * weight's only reader may update the buffer in place instead of copying
   * it. Absent (never reusable) outside runPipeline.
   */
  reusable?(weight: Node): boolean;
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
