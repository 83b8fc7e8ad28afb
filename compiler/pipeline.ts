/**
 * The pass pipeline: a readable list of named passes, and the driver that
 * runs them with the developer tools --dump-after, --explain and --verify.
 *
 * The order is the algebra's: fold the BatchNorms (and per-channel scales) of
 * the branches into their convs, compose convs chained without a
 * nonlinearity, merge the branches of each sum, inject the merged conv into
 * the FC, compact the FCs, then fold the BatchNorms after merged sums and in
 * front of FCs, which only now see linear layers.
 */
import {
  formatNode,
  type Graph,
  type Node,
  printGraph,
  RefoldError,
  topoOrder,
} from "../ir/mod.ts";
import type { Pass, PassContext } from "./pass.ts";
import { Verifier } from "./verify.ts";
import { canonicalize } from "./passes/canonicalize.ts";
import { composeConvs } from "./passes/compose_convs.ts";
import { convIntoFc } from "./passes/conv_into_fc.ts";
import { foldBatchnorm } from "./passes/fold_batchnorm.ts";
import { groupFc } from "./passes/group_fc.ts";
import { lowerBatchnorm } from "./passes/lower_batchnorm.ts";
import { mergeParallelConvs } from "./passes/merge_parallel_convs.ts";
import { graphChanged } from "./passes/_rewrite.ts";

/** The passes in the order they run; a pass may run more than once. */
export const PIPELINE: readonly Pass[] = [
  canonicalize, // 1x1 convs on (N,K,1,1) become FCs, views merge, constants fold
  foldBatchnorm, // branch BNs and scales into their convs, fc3_bn into fc3
  composeConvs, // DBB's 1x1 -> kxk chains into one conv
  mergeParallelConvs, // each sum's branches on one tensor into one conv
  convIntoFc, // the local perceptron's conv into fc3
  groupFc, // parallel FCs merged, FCs compacted to their finest groups
  foldBatchnorm, // BNs after merged sums, and BNs in front of what is now linear
  lowerBatchnorm, // what is left: per-channel mul + add
  canonicalize, // tidy the views the rewrites left behind
];

/** Options of runPipeline. */
export interface PipelineOptions {
  /** Run only the passes with these names (in pipeline order); default all. */
  passes?: readonly string[];
  /** Call onDump with the IR text after these passes, or after every pass. */
  dumpAfter?: readonly string[] | "all";
  /** Receives the IR text for dumpAfter. */
  onDump?: (pass: string, irText: string) => void;
  /** Report, through onExplain, the guard that stopped each rewrite a user might expect. */
  explain?: boolean;
  /** Receives explanations: the node in IR text and the guard that failed. */
  onExplain?: (pass: string, message: string) => void;
  /**
   * Run the float64 interpreter on seeded random inputs before and after every
   * pass, and fail when an output moves by more than `tolerance` (relative to
   * its largest magnitude; by default the larger of DEFAULT_VERIFY_TOLERANCE and
   * NOISE_FACTOR times the model's float32 noise floor, see compiler/verify.ts)
   * from the previous pass's or from the input graph's. Also runs verifyGraph
   * after each pass.
   */
  verify?: boolean | { tolerance?: number; seed?: number };
  /** Told before each pass runs and before its output is verified (for progress displays). */
  onProgress?: (step: PipelineStep) => void;
}

/**
 * What the pipeline is about to do: run pass `index` of `count`, verify its
 * output, or (stage "reference", before the first pass under verify) compute
 * the training graph's outputs that every pass is checked against.
 */
export interface PipelineStep {
  readonly pass: string;
  readonly index: number;
  readonly count: number;
  readonly stage: "reference" | "run" | "verify";
}

export { DEFAULT_VERIFY_TOLERANCE, NOISE_FACTOR } from "./verify.ts";

/** What one pass did. */
export interface PassReport {
  pass: string;
  changed: boolean;
  ms: number;
  /** Under verify: the largest absolute change of any output value from the previous pass. */
  maxAbsError?: number;
  /** Under verify: maxAbsError over the largest output magnitude. */
  maxRelError?: number;
  /** Under verify: the relative change from the input graph's outputs, all passes so far. */
  totalRelError?: number;
}

/** The passes that `names` selects, checked. */
function selectPasses(names: readonly string[] | undefined): readonly Pass[] {
  const known = new Set(PIPELINE.map((pass) => pass.name));
  for (const name of names ?? []) {
    if (!known.has(name)) {
      throw new RefoldError(`unknown pass "${name}"; passes: ${[...known].join(", ")}`);
    }
  }
  return names ? PIPELINE.filter((pass) => names.includes(pass.name)) : PIPELINE;
}

/** Buffers a pass may update in place: made by this run, held by one weight of `graph`. */
function scratchBuffers(graph: Graph, input: ReadonlySet<ArrayBufferLike>): Set<ArrayBufferLike> {
  const holders = new Map<ArrayBufferLike, number>();
  for (const node of topoOrder(graph)) {
    if (node.op === "weight") {
      holders.set(node.data!.buffer, (holders.get(node.data!.buffer) ?? 0) + 1);
    }
  }
  return new Set(
    [...holders].filter(([buffer, count]) => count === 1 && !input.has(buffer)).map(([b]) => b),
  );
}

function makeContext(
  graph: Graph,
  pass: Pass,
  options: PipelineOptions,
  inputBuffers: ReadonlySet<ArrayBufferLike>,
): PassContext {
  let names: Map<Node, string> | undefined;
  const describe = (node: Node) => {
    names ??= new Map(topoOrder(graph).map((each, i) => [each, `%${i}`]));
    return `${names.get(node) ?? "%?"} = ${formatNode(node, names)}`;
  };
  const seen = new Set<string>();
  const explain = options.explain && options.onExplain
    ? (node: Node, reason: string) => {
      const message = `${describe(node)}: ${reason}`;
      if (!seen.has(message)) options.onExplain!(pass.name, message);
      seen.add(message);
    }
    : () => {};
  let scratch: Set<ArrayBufferLike> | undefined;
  const reusable = (weight: Node) => {
    scratch ??= scratchBuffers(graph, inputBuffers);
    return weight.op === "weight" && scratch.has(weight.data!.buffer);
  };
  return { explain, describe, reusable };
}

/** Runs the pipeline (or the selected passes) on `graph`; the input graph is left untouched. */
export function runPipeline(
  graph: Graph,
  options: PipelineOptions = {},
): { graph: Graph; reports: PassReport[] } {
  return runPasses(graph, selectPasses(options.passes), options);
}

/**
 * Runs `passes`, in order, with the pipeline's tools (dumps, explanations,
 * verification); `options.passes` is ignored. Tests use it to run one pass.
 */
export function runPasses(
  graph: Graph,
  passes: readonly Pass[],
  options: PipelineOptions = {},
): { graph: Graph; reports: PassReport[] } {
  const dumps = options.dumpAfter ?? [];
  if (dumps !== "all") selectPasses(dumps);
  const verify = options.verify === true ? {} : options.verify || undefined;
  const progress = (index: number, stage: PipelineStep["stage"]) =>
    options.onProgress?.({ pass: passes[index].name, index, count: passes.length, stage });
  if (verify && passes.length > 0) progress(0, "reference");
  const verifier = verify ? new Verifier(graph, verify) : undefined;
  const reports: PassReport[] = [];
  // The caller's weights are never updated in place; later passes may update what earlier ones made.
  const inputBuffers = new Set<ArrayBufferLike>();
  for (const node of topoOrder(graph)) {
    if (node.op === "weight") inputBuffers.add(node.data!.buffer);
  }
  let current = graph;
  for (const [index, pass] of passes.entries()) {
    progress(index, "run");
    const start = performance.now();
    let next: Graph;
    try {
      next = pass.run(current, makeContext(current, pass, options, inputBuffers));
    } catch (error) {
      if (error instanceof RefoldError) {
        throw new RefoldError(`pass ${pass.name}: ${error.message}`);
      }
      throw error;
    }
    const report: PassReport = {
      pass: pass.name,
      changed: graphChanged(current, next),
      ms: performance.now() - start,
    };
    if (verifier) {
      progress(index, "verify");
      verifier.check(pass, next, report);
    }
    reports.push(report);
    if (options.onDump && (dumps === "all" || dumps.includes(pass.name))) {
      options.onDump(pass.name, printGraph(next));
    }
    current = next;
  }
  return { graph: current, reports };
}
