/**
 * The pass tests' shape (MLIR's `-pass | FileCheck` in TypeScript): IR text
 * in, one pass, IR text out as a snapshot headed by the case's intent, the
 * explanations the pass gave, and a numeric check of the rewrite with the
 * float64 interpreter on seeded inputs.
 */
import assert from "node:assert/strict";
import type { Pass } from "../../compiler/mod.ts";
import { runPasses } from "../../compiler/mod.ts";
import {
  type Graph,
  hashString,
  interpret,
  parseGraph,
  printGraph,
  sizeOf,
  uniform,
} from "../../ir/mod.ts";
import { assertClose } from "../_assert.ts";
import type { SnapshotFile } from "../_snapshot.ts";

/** Seeded inputs in [-1, 1). */
export function feedsFor(graph: Graph, seed = 7): Record<string, Float32Array> {
  const feeds: Record<string, Float32Array> = {};
  for (const input of graph.inputs) {
    const { name } = input.attrs;
    feeds[name] = uniform(sizeOf(input.type.shape), hashString(`${seed}/${name}`));
  }
  return feeds;
}

/** Fails unless every output of `after` matches `before` within `tolerance` (relative). */
export function assertEquivalent(before: Graph, after: Graph, tolerance = 1e-6): void {
  const feeds = feedsFor(before);
  const expected = interpret(before, feeds), actual = interpret(after, feeds);
  for (const [name, values] of Object.entries(expected)) {
    assertClose(actual[name], values, tolerance, `output "${name}"`);
  }
}

/** Runs passes the way the pipeline does, collecting explanations. */
export function run(
  graph: Graph,
  passes: readonly Pass[],
): { graph: Graph; explanations: string[]; changed: boolean } {
  const explanations: string[] = [];
  const result = runPasses(graph, passes, {
    explain: true,
    onExplain: (pass, message) => explanations.push(`${pass}: ${message}`),
  });
  return {
    graph: result.graph,
    explanations,
    changed: result.reports.some((report) => report.changed),
  };
}

/** One snapshot case. */
export interface Case {
  /** One line: what the case shows. */
  readonly intent: string;
  /** The input graph in IR text; weights get seeded values by name. */
  readonly input: string;
  /** True when the pass must leave the graph exactly as it was. */
  readonly unchanged?: boolean;
  /** Weight values by name, for cases that need structure (zeros, repeats). */
  readonly weights?: (name: string, shape: readonly number[]) => Float32Array | undefined;
}

/** Registers one Deno test: parse, run `passes`, check numerics, match the snapshot. */
export function snapshotCase(
  snap: SnapshotFile,
  passes: readonly Pass[],
  name: string,
  testCase: Case,
): void {
  Deno.test(name, async () => {
    const before = parseGraph(testCase.input, { weights: testCase.weights });
    const { graph: after, explanations, changed } = run(before, passes);
    assertEquivalent(before, after);
    if (testCase.unchanged) {
      assert.equal(changed, false, "the pass reported a change");
      assert.equal(printGraph(after), printGraph(before));
    } else {
      assert.equal(changed, true, "the pass reported no change");
    }
    const notes = explanations.map((line) => `// explain ${line}`);
    await snap.match(
      name,
      [`// ${testCase.intent}`, printGraph(after).trimEnd(), ...notes].join("\n"),
    );
  });
}
