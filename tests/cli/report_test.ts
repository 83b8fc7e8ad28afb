// The compile report: graph layout (by op, or by block for large graphs), SVG escaping,
// `compile.ts --report` inside and outside --out, quiet piped output, and --input-shape.
import assert from "node:assert/strict";
import { PIPELINE } from "../../compiler/mod.ts";
import { parseCliArgs } from "../../cli/args.ts";
import { layoutGraph } from "../../cli/graph_layout.ts";
import { graphSvg } from "../../cli/graph_svg.ts";
import { runPipeline } from "../../compiler/mod.ts";
import { EXAMPLES } from "../../examples/mod.ts";
import { writeModel } from "../../formats/mod.ts";
import { type Graph, parseGraph, RefoldError, topoOrder } from "../../ir/mod.ts";
import { join } from "../_path.ts";
import { exists, runCli } from "./_run.ts";

function computeNodes(graph: Graph): number {
  return topoOrder(graph).filter((node) => node.op !== "weight" && node.op !== "input").length;
}

/** Every edge points down to a later layer, and no two boxes overlap. */
function checkGeometry(layout: ReturnType<typeof layoutGraph>): void {
  for (const [from, to] of layout.edges) {
    assert.ok(layout.boxes[from].y < layout.boxes[to].y, `edge ${from} -> ${to} goes up`);
  }
  const seen = new Set(layout.boxes.map((box) => `${box.x},${box.y}`));
  assert.equal(seen.size, layout.boxes.length, "two boxes at one place");
  for (const box of layout.boxes) {
    assert.ok(box.x > 0 && box.x < layout.width && box.y > 0 && box.y < layout.height);
  }
}

Deno.test("a small graph is drawn op by op, every op once, in layers", () => {
  const graph = EXAMPLES["repmlp-block"].build();
  const layout = layoutGraph(graph);
  assert.equal(layout.collapsed, false);
  assert.equal(layout.boxes.length, computeNodes(graph) + 2, "ops, the input and the output");
  const ops = layout.boxes.filter((box) => box.kind !== "input" && box.kind !== "output");
  const counts: Record<string, number> = {};
  for (const box of ops) counts[box.label] = (counts[box.label] ?? 0) + 1;
  assert.equal(counts.conv2d, 4, "fc3 and the three local-perceptron branches");
  assert.equal(counts.batchnorm, 5);
  checkGeometry(layout);
});

Deno.test("a large graph is drawn by block, and the blocks hold every op", () => {
  const graph = EXAMPLES["repmlpnet-tiny"].build();
  const layout = layoutGraph(graph);
  assert.equal(layout.collapsed, true);
  const blocks = layout.boxes.filter((box) => box.kind === "block").map((box) => box.label);
  assert.deepEqual(blocks, [
    "conv_embedding",
    "stages.0.0",
    "stages.0.1",
    "embeds.0",
    "stages.1.0",
    "head_norm",
    "head",
  ]);
  const held = layout.boxes.filter((box) => box.kind === "block")
    .reduce((sum, box) => sum + Number(/^(\d+) op/.exec(box.detail)![1]), 0);
  assert.equal(held, computeNodes(graph));
  checkGeometry(layout);
  const deployed = layoutGraph(runPipeline(graph).graph);
  assert.ok(deployed.boxes.some((box) => box.label === "stages.1.0"));
  checkGeometry(deployed);
});

Deno.test("names from the model are escaped in the SVG", () => {
  const graph = parseGraph(`graph "g</svg>" {
  %0 = input "<img src=x onerror=alert(1)>" : f32[1,4]
  %1 = relu(%0) : f32[1,4]
  output "y&\\"" = %1
}`);
  const svg = graphSvg(graph, { id: "a b" });
  assert.doesNotMatch(svg, /<img|<\/svg>"|y&"/);
  assert.match(svg, /&#60;img src=x onerror=alert\(1\)&#62;/);
  assert.match(svg, /id="a_b-arrow"/);
  assert.equal(svg.match(/<svg/g)!.length, 1);
  assert.equal(svg.match(/<\/svg>/g)!.length, 1);
});

Deno.test("compile.ts --report writes the HTML report, inside --out or elsewhere", async () => {
  const dir = await Deno.makeTempDir({ prefix: "refold-report-" });
  try {
    await writeModel(EXAMPLES["repmlp-block"].build(), join(dir, "model.json"));
    const inside = await runCli([
      join(dir, "model.json"),
      "--target",
      "wasm",
      "--out",
      join(dir, "out"),
      "--verify",
      "--report",
      join(dir, "out", "report.html"),
    ]);
    assert.equal(inside.code, 0, inside.stderr);
    // Piped stdout: the final report only, no status lines.
    assert.ok(!inside.stdout.includes("\r") && !inside.stdout.includes("\u001b"), "status lines");
    assert.match(inside.stdout, /^time: read \d+\.\d\d s, passes \d+\.\d\d s, codegen/m);
    assert.match(inside.stdout, /report\.html \d+\.\d KiB/);
    const html = await Deno.readTextFile(join(dir, "out", "report.html"));
    assert.match(html, /^<!doctype html>/);
    assert.equal(html.match(/<svg class="graph"/g)!.length, 2);
    assert.equal(
      html.match(/<tr><td>[a-z-]+<\/td><td class="(?:changed|same)">/g)!.length,
      PIPELINE.length,
    );
    assert.match(html, /<td>parameters<\/td><td>23,648<\/td><td>22,096<\/td>/);
    assert.match(
      html,
      /<td>conv-into-fc<\/td><td class="changed">yes<\/td><td>[\d.]+ ms<\/td><td>\d\.\d\de-\d+<\/td>/,
    );
    assert.doesNotMatch(html, /<script/);

    const outside = await runCli([
      join(dir, "model.json"),
      "--out",
      join(dir, "out2"),
      "--report",
      join(dir, "reports", "r.html"),
    ]);
    assert.equal(outside.code, 0, outside.stderr);
    assert.ok(exists(join(dir, "reports", "r.html")));
    assert.ok(!exists(join(dir, "out2", "r.html")));
    assert.match(await Deno.readTextFile(join(dir, "reports", "r.html")), /Not verified/);

    const bad = await runCli([join(dir, "model.json"), "--report", ""]);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr.trim(), 'refold: error: --report must name a file, got ""');
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--input-shape: its flag errors, and model.json refuses it", async () => {
  const cases: [string[], RegExp][] = [
    [["--input-shape", "x=1,3,a"], /--input-shape takes NAME=D,D,\.\.\. .*got "x=1,3,a"/],
    [["--input-shape", "=1,3"], /--input-shape takes NAME=D,D/],
    [["--input-shape", "x=1,0"], /--input-shape x: every dimension must be from 1 to 2\^30/],
    [["--input-shape", "x=1", "--input-shape", "x=2"], /--input-shape x given twice/],
  ];
  for (const [flags, expected] of cases) {
    assert.throws(() => parseCliArgs(["model.onnx", ...flags]), (error: Error) => {
      assert.ok(error instanceof RefoldError);
      assert.match(error.message, expected);
      return true;
    });
  }
  assert.deepEqual(
    parseCliArgs(["m.onnx", "--input-shape", "input.1=1,3,5,7", "--input-shape", "b=2"])
      .inputShapes,
    { "input.1": [1, 3, 5, 7], b: [2] },
  );
  const dir = await Deno.makeTempDir({ prefix: "refold-shape-" });
  try {
    await writeModel(EXAMPLES["repmlp-block"].build(), join(dir, "model.json"));
    const result = await runCli([
      join(dir, "model.json"),
      "--out",
      join(dir, "out"),
      "--input-shape",
      "x=1,8,12,12",
    ]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /--input-shape applies to ONNX models/);
    assert.ok(!exists(join(dir, "out")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
