/**
 * Imports every torch-exported fixture (default options, constant folding
 * off, BatchNorm preserved, dynamic batch; opsets 11 to 17), runs it in the
 * reference interpreter and compares with the training-time PyTorch model's
 * float64 output.
 */
import assert from "node:assert/strict";
import { loadOnnx } from "../../formats/onnx/mod.ts";
import { type Graph, interpret, printGraph, summarize, topoOrder } from "../../ir/mod.ts";
import { assertClose, compareArrays } from "../_assert.ts";
import { snapshotFile } from "../_snapshot.ts";
import { fixtureExpected, fixtureInput, fixtureModels, FIXTURES } from "./_helpers.ts";

const snap = snapshotFile(import.meta.url);
const models = fixtureModels();

/** The tensor names of a safetensors file, from its JSON header. */
function checkpointNames(model: string): Map<string, string> {
  const bytes = Deno.readFileSync(`${FIXTURES}${model}.safetensors`);
  const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
  delete header.__metadata__;
  return new Map(
    Object.entries(header).map(([name, info]) => [name, (info as { dtype: string }).dtype]),
  );
}

function weightNames(graph: Graph): string[] {
  return topoOrder(graph).filter((node) => node.op === "weight").map((node) =>
    (node.attrs as { name: string }).name
  );
}

for (const model of models) {
  for (const file of model.files) {
    Deno.test(`import ${file.file} matches PyTorch at batch 1 and 2`, async () => {
      for (const batch of [1, 2]) {
        const graph = await loadOnnx(FIXTURES + file.file, { batch });
        assert.deepEqual(graph.inputs[0].type.shape, [batch, ...model.input.shape.slice(1)]);
        const out = interpret(graph, { x: fixtureInput(model.name, batch) });
        const expected = fixtureExpected(model.name, batch);
        assertClose(out.y, expected, 3e-7, `${file.file} at batch ${batch}`);
        // With BatchNorm preserved nothing was rounded by the exporter: agreement is to float64.
        if (file.options.training) assert.ok(compareArrays(out.y, expected).relative < 1e-9);
        assert.equal(summarize(graph).ops.batchnorm ?? 0, file.batchnorms);
      }
    });
  }
}

Deno.test("preserved exports keep the state_dict names of every float tensor", async () => {
  for (const model of models) {
    const checkpoint = checkpointNames(model.name);
    const floats = [...checkpoint].filter(([, dtype]) => dtype === "F32").map(([name]) => name);
    const file = model.files.find((f) => f.file.endsWith("preserve_op17.onnx"))!;
    const names = weightNames(await loadOnnx(FIXTURES + file.file));
    const named = names.filter((name) => checkpoint.has(name));
    // Every parameter and BN statistic arrives under its checkpoint name; the only other
    // weights are the scalars torch writes (GELU's constants are gone into gelu).
    assert.deepEqual(new Set(named), new Set(floats), model.name);
    const others = names.filter((name) => !checkpoint.has(name));
    assert.deepEqual(others, [], `${model.name}: unnamed weights ${others}`);
  }
});

Deno.test("constant folding off gives the same graph as the folded export", async () => {
  for (const model of models) {
    const folded = model.files.find((f) => f.file.endsWith(".default_op17.onnx"));
    const unfolded = model.files.find((f) => f.file.endsWith(".nofold_op13.onnx"));
    if (!folded || !unfolded) continue;
    const shape = (graph: Graph) => topoOrder(graph).map((n) => `${n.op}[${n.type.shape}]`);
    const a = await loadOnnx(FIXTURES + folded.file), b = await loadOnnx(FIXTURES + unfolded.file);
    assert.deepEqual(shape(b), shape(a), model.name);
  }
});

Deno.test("torch's GELU pattern becomes gelu and its Add of 0.0 disappears", async () => {
  const graph = await loadOnnx(FIXTURES + "repmlpnet.nofold_op13.onnx");
  const ops = summarize(graph).ops;
  assert.equal(ops.gelu, 3);
  assert.equal(ops.erf, undefined);
  for (const node of topoOrder(graph)) {
    if (node.op !== "add") continue;
    for (const input of node.inputs) {
      assert.notEqual(input.op, "weight", "an Add of a constant remains");
    }
  }
});

Deno.test("IR of the training-time v1 block", async () => {
  const graph = await loadOnnx(FIXTURES + "repmlp_block.preserve_op17.onnx");
  await snap.match("repmlp_block.preserve_op17", printGraph(graph));
  const net = await loadOnnx(FIXTURES + "repmlpnet.preserve_nofold_dyn_op13.onnx", { batch: 1 });
  await snap.match("repmlpnet.preserve_nofold_dyn_op13", printGraph(net));
});

snap.checkOrphans();
