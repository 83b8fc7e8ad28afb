// The pipeline: its list, the developer tools (dump, explain, verify) and the whole v1 block end to end.
import assert from "node:assert/strict";
import { type Pass, PIPELINE, runPasses, runPipeline } from "../../compiler/mod.ts";
import {
  interpret,
  makeNode,
  type Node,
  printGraph,
  RefoldError,
  summarize,
  topoOrder,
} from "../../ir/mod.ts";
import { snapshotFile } from "../_snapshot.ts";
import { assertEquivalent, feedsFor } from "./_harness.ts";
import { v1Graph, v2Net } from "./_models.ts";

const snap = snapshotFile(import.meta.url);

Deno.test("the pipeline is a readable list of named passes", () => {
  const names = PIPELINE.map((pass) => pass.name);
  assert.deepEqual(names, [
    "canonicalize",
    "fold-batchnorm",
    "compose-convs",
    "merge-parallel-convs",
    "conv-into-fc",
    "group-fc",
    "fold-batchnorm",
    "lower-batchnorm",
    "canonicalize",
  ]);
  for (const pass of PIPELINE) {
    assert.match(pass.name, /^[a-z]+(-[a-z]+)*$/);
    assert.ok(pass.summary.length > 10 && !pass.summary.includes("\n"), pass.name);
  }
});

Deno.test("the v1 block deploys as three FCs", async () => {
  const training = v1Graph({
    c: 4,
    o: 6,
    hw: [8, 6],
    part: [4, 3],
    ks: [5, 1, 3],
    groups: 2,
    batch: 2,
  });
  const { graph } = runPipeline(training);
  assertEquivalent(training, graph, 1e-6);
  const ops = summarize(graph).ops;
  assert.deepEqual(ops, { avgpool: 1, linear: 3, relu: 1, add: 1, reshape: 6, transpose: 2 });
  await snap.match("deployed v1 block", printGraph(graph));
});

Deno.test("passes selects by name, in pipeline order; unknown names are errors", () => {
  const training = v1Graph({ c: 2, o: 2, hw: [2, 2], part: [2, 2], ks: [1], groups: 1 });
  const { reports } = runPipeline(training, { passes: ["fold-batchnorm", "canonicalize"] });
  assert.deepEqual(reports.map((r) => r.pass), [
    "canonicalize",
    "fold-batchnorm",
    "fold-batchnorm",
    "canonicalize",
  ]);
  assert.throws(
    () => runPipeline(training, { passes: ["fold-bn"] }),
    /unknown pass "fold-bn"; passes: canonicalize/,
  );
  assert.throws(() => runPipeline(training, { dumpAfter: ["nope"] }), RefoldError);
});

Deno.test("dumpAfter prints the IR after the chosen passes", () => {
  const training = v1Graph({ c: 2, o: 2, hw: [2, 2], part: [2, 2], ks: [1], groups: 1 });
  const dumps: string[] = [];
  runPipeline(training, {
    dumpAfter: ["conv-into-fc"],
    onDump: (pass, text) => dumps.push(`${pass}\n${text}`),
  });
  assert.equal(dumps.length, 1);
  assert.match(dumps[0], /^conv-into-fc\ngraph "repmlp-v1" \{/);
  const all: string[] = [];
  runPipeline(training, { dumpAfter: "all", onDump: (pass) => all.push(pass) });
  assert.deepEqual(all, PIPELINE.map((pass) => pass.name));
});

Deno.test("explain names the node in IR text and the guard, once per pass", () => {
  const net = v2Net([{ c: 8, hw: [4, 4], part: [2, 2], ks: [1, 3], sharesets: 2 }]);
  const lines: string[] = [];
  runPipeline(net, {
    explain: true,
    onExplain: (pass, message) => lines.push(`${pass}: ${message}`),
  });
  const prebn1 = lines.filter((line) =>
    line.startsWith("fold-batchnorm: %") && line.includes("batchnorm(")
  );
  assert.equal(prebn1.length, 2, lines.join("\n"));
  // prebn1 follows a relu and feeds fc3's share-set rows, which mix channels: neither side absorbs it.
  assert.match(
    prebn1[0],
    new RegExp(
      String.raw`^fold-batchnorm: %\d+ = batchnorm\(%\d+, %\d+, %\d+, %\d+, %\d+\) ` +
        String.raw`\{axis=1, epsilon=0.00001\} : f32\[1,8,4,4\]: not folded back: a scale cannot ` +
        String.raw`cross the nonlinearity %\d+ = relu\(%\d+\) : f32\[1,8,4,4\]; not folded ` +
        String
          .raw`into %\d+ = linear\(.*\) \{groups=2\} : f32\[16,8\]: the batchnorm channel varies ` +
        String.raw`across the FC's rows, which share one weight$`,
    ),
  );
  assert.equal(new Set(lines).size, lines.length);
  const silent: string[] = [];
  runPipeline(net, { onExplain: (_pass, message) => silent.push(message) });
  assert.deepEqual(silent, []);
});

/** A deliberately wrong pass: every relu becomes a sigmoid. */
const breaksRelu: Pass = {
  name: "break-relu",
  summary: "replaces relu by sigmoid (wrong on purpose)",
  run(graph) {
    const mapped = new Map<Node, Node>();
    for (const node of topoOrder(graph)) {
      const inputs = node.inputs.map((input) => mapped.get(input)!);
      mapped.set(
        node,
        node.inputs.length === 0
          ? node
          : makeNode(node.op === "relu" ? "sigmoid" : node.op, inputs, node.attrs),
      );
    }
    return {
      ...graph,
      outputs: graph.outputs.map(({ name, node }) => ({ name, node: mapped.get(node)! })),
    };
  },
};

Deno.test("verify reports each pass's error and names the pass that breaks the model", () => {
  const training = v1Graph({ c: 2, o: 2, hw: [4, 4], part: [2, 2], ks: [1, 3], groups: 1 });
  const { reports } = runPipeline(training, { verify: true });
  for (const report of reports) {
    assert.ok(report.maxRelError! <= 1e-6, `${report.pass}: ${report.maxRelError}`);
    assert.equal(report.maxAbsError === 0, !report.changed || report.pass === "canonicalize");
  }
  assert.throws(
    () => runPasses(training, [PIPELINE[0], breaksRelu], { verify: { tolerance: 1e-3, seed: 3 } }),
    /--verify: pass break-relu changed output "y" by .* above the tolerance 1\.00e-3/,
  );
});

Deno.test("the caller's graph and weights are left untouched", () => {
  const training = v2Net([{ c: 8, hw: [2, 2], part: [2, 2], ks: [1, 3], sharesets: 8 }]);
  const text = printGraph(training);
  const feeds = feedsFor(training);
  const before = interpret(training, feeds).logits;
  runPipeline(training);
  assert.equal(printGraph(training), text);
  assert.deepEqual(interpret(training, feeds).logits, before);
});

snap.checkOrphans();
