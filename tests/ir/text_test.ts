// The text form: round trips, escaping of names, and parse errors that name the line.
import assert from "node:assert/strict";
import { GraphBuilder, parseGraph, printGraph, uniform } from "../../ir/mod.ts";
import { snapshotFile } from "../_snapshot.ts";

const snap = snapshotFile(import.meta.url);

function sample() {
  const b = new GraphBuilder('odd "name"\n');
  const x = b.input("x/input:0", [1, 2, 4, 4]);
  const k = b.weight('w"}\\', [2, 1, 3, 3], uniform(18, 1));
  const c = b.conv2d(x, k, undefined, { padding: 1, groups: 2 });
  const p = b.avgpool(b.relu(c), 2, { countIncludePad: false });
  b.output("out\u2028", b.reshape(p, [1, -1]));
  return b.build();
}

Deno.test("names with quotes, backslashes and newlines print escaped and parse back", async () => {
  const graph = sample();
  const text = printGraph(graph);
  await snap.match("escaped names", text);
  const weights = new Map([[
    'w"}\\',
    graph.outputs[0].node.inputs[0].inputs[0].inputs[0].inputs[1].data!,
  ]]);
  const parsed = parseGraph(text, { weights: (name) => weights.get(name) });
  assert.equal(printGraph(parsed), text);
  assert.equal(parsed.name, 'odd "name"\n');
});

Deno.test("shared values print once", () => {
  const b = new GraphBuilder("dag");
  const x = b.input("x", [4]);
  const r = b.relu(x);
  b.output("y", b.add(r, r));
  b.output("z", r);
  const text = printGraph(b.build());
  assert.equal(text.match(/relu/g)?.length, 1);
  assert.equal(printGraph(parseGraph(text)), text);
});

const bad: [string, string, RegExp][] = [
  ["empty", "", /empty graph text/],
  ["no header", '%0 = input "x" : f32[1]', /line 1: expected `graph "name" \{`/],
  [
    "unknown op",
    'graph "g" {\n  %0 = input "x" : f32[2]\n  %1 = frobnicate(%0) : f32[2]\n}',
    /line 3: unknown op "frobnicate"/,
  ],
  [
    "unknown value",
    'graph "g" {\n  %0 = input "x" : f32[2]\n  %1 = relu(%7) : f32[2]\n}',
    /line 3: unknown value %7/,
  ],
  [
    "wrong type",
    'graph "g" {\n  %0 = input "x" : f32[2]\n  %1 = relu(%0) : f32[3]\n  output "y" = %1\n}',
    /line 3: declared type \[3\] but the op infers \[2\]/,
  ],
  [
    "shape error",
    'graph "g" {\n  %0 = input "x" : f32[2,3]\n  %1 = transpose(%0) {perm=[0,0]} : f32[2,2]\n}',
    /line 3: transpose .*not a permutation/,
  ],
  [
    "unclosed",
    'graph "g" {\n  %0 = input "x" : f32[2]\n  output "y" = %0',
    /without its closing brace/,
  ],
  [
    "redefined",
    'graph "g" {\n  %0 = input "x" : f32[2]\n  %0 = relu(%0) : f32[2]\n}',
    /line 3: %0 is defined twice/,
  ],
];

for (const [what, text, message] of bad) {
  Deno.test(`parse error: ${what}`, () => assert.throws(() => parseGraph(text), message));
}

snap.checkOrphans();
