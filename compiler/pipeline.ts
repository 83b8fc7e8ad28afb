/**
 * The pass pipeline: a readable list of named passes, and the driver that
 * runs them with the developer tools --dump-after, --explain and --verify.
 *
 * The order is the algebra's: fold the BatchNorms of the branches into their
 * convs, merge the branches, inject the merged conv into the FC, compact the
 * FCs, then fold the BatchNorms in front, which only now see linear layers.
 */
import {
  formatNode,
  type Graph,
  hashString,
  interpret,
  type Node,
  printGraph,
  RefoldError,
  sizeOf,
  topoOrder,
  uniform,
  verifyGraph,
} from "../ir/mod.ts";
import type { Pass, PassContext } from "./pass.ts";
import { canonicalize } from "./passes/canonicalize.ts";
import { convIntoFc } from "./passes/conv_into_fc.ts";
import { foldBatchnorm } from "./passes/fold_batchnorm.ts";
import { groupFc } from "./passes/group_fc.ts";
import { lowerBatchnorm } from "./passes/lower_batchnorm.ts";
import { mergeParallelConvs } from "./passes/merge_parallel_convs.ts";
import { graphChanged } from "./passes/_rewrite.ts";

/** The passes in the order they run; a pass may run more than once. */
export const PIPELINE: readonly Pass[] = [
  canonicalize, // 1x1 convs on (N,K,1,1) become FCs, views merge
  foldBatchnorm, // branch BNs into their convs, fc3_bn into fc3
  mergeParallelConvs, // the local perceptron's kernels into one conv
  convIntoFc, // that conv into fc3
  groupFc, // parallel FCs merged, FCs compacted to their finest groups
  foldBatchnorm, // BNs in front, now that what follows them is linear
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
   * its largest magnitude; default 1e-5). Also runs verifyGraph after each pass.
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

/** What one pass did. */
export interface PassReport {
  pass: string;
  changed: boolean;
  ms: number;
  /** Under verify: the largest absolute change of any output value. */
  maxAbsError?: number;
  /** Under verify: maxAbsError over the largest output magnitude. */
  maxRelError?: number;
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

/** Seeded inputs in [-1, 1), one stream per input name. */
function seededFeeds(graph: Graph, seed: number): Record<string, Float32Array> {
  const feeds: Record<string, Float32Array> = {};
  for (const input of graph.inputs) {
    feeds[input.attrs.name] = uniform(
      sizeOf(input.type.shape),
      (seed ^ hashString(input.attrs.name)) >>> 0,
    );
  }
  return feeds;
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

/** The largest change between two sets of outputs, absolute and relative to `before`'s magnitude. */
function compareOutputs(
  before: Record<string, Float64Array>,
  after: Record<string, Float64Array>,
): { abs: number; rel: number; output: string } {
  let worst = { abs: 0, rel: 0, output: "" };
  for (const [name, expected] of Object.entries(before)) {
    const actual = after[name];
    let abs = 0, scale = 0;
    for (let i = 0; i < expected.length; i++) {
      const diff = Math.abs(actual[i] - expected[i]);
      abs = diff > abs || Number.isNaN(diff) ? (Number.isNaN(diff) ? Infinity : diff) : abs;
      scale = Math.max(scale, Math.abs(expected[i]));
    }
    const rel = scale === 0 ? abs : abs / scale;
    if (rel >= worst.rel) worst = { abs, rel, output: name };
  }
  return worst;
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
  const tolerance = verify?.tolerance ?? 1e-5;
  const feeds = verify ? seededFeeds(graph, verify.seed ?? 0) : {};
  const progress = (index: number, stage: PipelineStep["stage"]) =>
    options.onProgress?.({ pass: passes[index].name, index, count: passes.length, stage });
  if (verify && passes.length > 0) progress(0, "reference");
  let expected = verify ? interpret(graph, feeds) : {};
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
    if (verify) {
      progress(index, "verify");
      verifyGraph(next, `after pass ${pass.name}`);
      const outputs = report.changed ? interpret(next, feeds) : expected;
      const { abs, rel, output } = compareOutputs(expected, outputs);
      report.maxAbsError = abs;
      report.maxRelError = rel;
      if (!(rel <= tolerance)) {
        throw new RefoldError(
          `--verify: pass ${pass.name} changed output "${output}" by ${abs.toExponential(2)} ` +
            `(relative ${rel.toExponential(2)}), above the tolerance ${tolerance}`,
        );
      }
      expected = outputs;
    }
    reports.push(report);
    if (options.onDump && (dumps === "all" || dumps.includes(pass.name))) {
      options.onDump(pass.name, printGraph(next));
    }
    current = next;
  }
  return { graph: current, reports };
}
