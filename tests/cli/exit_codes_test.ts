// Exit codes start here: a RefoldError (exit 1) is one line whatever names it carries, and a
// bug below a reader or a backend stays a bug (not a RefoldError), so the CLI exits 70 for it.
import assert from "node:assert/strict";
import { wasmBackend } from "../../backends/wasm/mod.ts";
import { parseModel } from "../../formats/mod.ts";
import { importOnnx, MAPPERS } from "../../formats/onnx/mod.ts";
import { makeInput, type Node, RefoldError } from "../../ir/mod.ts";
import { onnxModel } from "../onnx/_helpers.ts";

Deno.test("RefoldError: names with newlines and line separators are escaped onto one line", () => {
  const error = new RefoldError('unknown name "a\nb\u2028c\rd"', { file: "m\n.json", node: "n\t" });
  assert.equal(error.message, 'm\\u000a.json: n\\u0009: unknown name "a\\u000ab\\u2028c\\u000dd"');
  // Through a reader: a model.json whose node names carry control characters.
  const text = JSON.stringify({
    format: "refold-model",
    version: 1,
    inputs: [{ name: "x", shape: [1, 2] }],
    nodes: [{ name: "bad\nname", op: "add", inputs: ["x", "no\u2029such"] }],
    outputs: ["bad\nname"],
  });
  try {
    parseModel(text, { file: "m.json" });
    assert.fail("expected a RefoldError");
  } catch (error) {
    assert.ok(error instanceof RefoldError);
    assert.doesNotMatch(error.message, /[\n\r\u2028\u2029]/);
    assert.match(error.message, /no\\u2029such/);
  }
});

Deno.test("ONNX import: a bug in a mapper is not reported as the model's fault", () => {
  const relu = MAPPERS.Relu;
  (MAPPERS as Record<string, unknown>).Relu = () => {
    throw new TypeError("cannot read properties of undefined");
  };
  try {
    const bytes = onnxModel({
      inputs: [["x", [1, 4]]],
      outputs: ["y"],
      nodes: [{ op: "Relu", inputs: ["x"], outputs: ["y"], name: "r" }],
    });
    assert.throws(
      () => importOnnx(bytes, { file: "m.onnx" }),
      (error: unknown) =>
        error instanceof Error && !(error instanceof RefoldError) &&
        error.message ===
          'm.onnx: node #0 "r" (Relu, opset 17): cannot read properties of undefined',
    );
  } finally {
    (MAPPERS as Record<string, unknown>).Relu = relu;
  }
});

Deno.test("wasm backend: a bug in the backend is not reported as the model's fault", async () => {
  const x = makeInput("x", [1, 4]);
  // A node no frontend can build: the backend has no lowering for it, which is refold's bug.
  const bogus = Object.freeze({ op: "bogus", inputs: [x], attrs: {}, type: x.type }) as unknown;
  await assert.rejects(
    () =>
      wasmBackend.emit({ name: "g", inputs: [x], outputs: [{ name: "y", node: bogus as Node }] }),
    (error: unknown) => error instanceof Error && !(error instanceof RefoldError),
  );
});
