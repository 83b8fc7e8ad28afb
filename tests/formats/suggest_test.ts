// "did you mean" is bounded: long names and many unknown names get an answer in milliseconds
// (two 30,000-character names used to take 25 s), and ordinary typos still get their guess.
import assert from "node:assert/strict";
import { parseModel } from "../../formats/mod.ts";
import { RefoldError } from "../../ir/mod.ts";

function modelText(inputs: string[], references: string[]): string {
  return JSON.stringify({
    format: "refold-model",
    version: 1,
    inputs: inputs.map((name) => ({ name, shape: [1, 2] })),
    nodes: references.map((name, i) => ({ name: `n${i}`, op: "relu", inputs: [name] })),
    outputs: references.map((_, i) => `n${i}`),
  });
}

function timedMessage(text: string): { message: string; ms: number } {
  const start = performance.now();
  try {
    parseModel(text, { file: "m.json" });
  } catch (error) {
    if (!(error instanceof RefoldError)) throw error;
    return { message: error.message, ms: performance.now() - start };
  }
  return assert.fail("expected a RefoldError");
}

Deno.test("did you mean: two 30,000-character names cost no more than short ones", () => {
  const name = "a".repeat(30_000);
  const { message, ms } = timedMessage(modelText([name], [name.slice(1) + "b"]));
  assert.match(message, /unknown name "a+b": not an input/);
  assert.ok(!message.includes("did you mean"), "no guess for a name this long");
  assert.ok(ms < 1000, `${ms} ms`);
});

Deno.test("did you mean: thousands of unknown names against thousands of candidates", () => {
  const inputs = Array.from({ length: 3000 }, (_, i) => `input_${"x".repeat(150)}_${i}`);
  const references = Array.from({ length: 3000 }, (_, i) => `inptu_${"x".repeat(150)}_${i}`);
  const { message, ms } = timedMessage(modelText(inputs, references));
  assert.match(message, /^m\.json: \$\.nodes\[0\]\.inputs\[0\]: unknown name "inptu_x+_0"/);
  assert.ok(ms < 3000, `${ms} ms`);
});

Deno.test("did you mean: a typo still gets its guess", () => {
  const { message } = timedMessage(modelText(["image", "mask"], ["imgae"]));
  assert.match(message, /unknown name "imgae".*\(did you mean "image"\?\)/);
});
