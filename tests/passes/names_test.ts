// Derived weight names: short stems, one tag, unique within the graph.
import assert from "node:assert/strict";
import { NameTable, stemOf } from "../../compiler/passes/_names.ts";
import { GraphBuilder } from "../../ir/mod.ts";

Deno.test("stems drop the role and earlier tags, and keep layer names", () => {
  assert.equal(stemOf("layer1.0.conv1.weight"), "layer1.0.conv1");
  assert.equal(stemOf("fc3.bnfold.weight"), "fc3");
  assert.equal(stemOf("repconv5.conv.merged2.bias"), "repconv5.conv");
  assert.equal(stemOf("fc1_fc2.fc1.weight"), "fc1_fc2.fc1");
  assert.equal(stemOf("onnx::Conv_12"), "onnx::Conv_12");
  assert.equal(stemOf("const"), "const");
});

Deno.test("derived names are unique against the graph and each other", () => {
  const b = new GraphBuilder();
  const x = b.input("x", [2]);
  b.output("y", b.add(x, b.weight("fc3.bnfold.weight", [2], new Float32Array(2))));
  const names = new NameTable(b.build());
  assert.equal(names.derive("fc3.weight", "bnfold", "weight"), "fc3.bnfold2.weight");
  assert.equal(names.derive("fc3.weight", "bnfold", "weight"), "fc3.bnfold3.weight");
  assert.equal(names.derive("fc3.weight", "bnfold", "bias"), "fc3.bnfold.bias");
  assert.equal(names.derive("prebn1.weight", "affine", "scale"), "prebn1.affine.scale");
  assert.equal(names.derive("onnx::MatMul_7", "const"), "onnx::MatMul_7.const");
});
