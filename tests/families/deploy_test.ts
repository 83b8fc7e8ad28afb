// Every re-parameterization family, exported from PyTorch with BatchNorm preserved and with the
// default export, deploys to its published inference form (op counts, and the deployed IR as a
// snapshot for the blocks) and still gives PyTorch's float64 outputs within float32 accuracy.
import assert from "node:assert/strict";
import { runPipeline } from "../../compiler/mod.ts";
import { loadOnnx } from "../../formats/onnx/mod.ts";
import { interpret, printGraph, summarize } from "../../ir/mod.ts";
import { assertClose } from "../_assert.ts";
import { snapshotFile } from "../_snapshot.ts";
import {
  FAMILIES,
  familyExpected,
  familyInput,
  familyModels,
  float32Tolerance,
  PUBLISHED,
} from "./_fixtures.ts";

const snap = snapshotFile(import.meta.url);

Deno.test("every fixture has a published form and both exports", () => {
  const models = familyModels();
  assert.deepEqual(models.map((m) => m.name).sort(), Object.keys(PUBLISHED).sort());
  for (const model of models) {
    assert.deepEqual(model.files.map((f) => f.file.split(".")[1]).sort(), [
      "default_op17",
      "preserve_op17",
    ]);
    const preserve = model.files.find((f) => f.file.includes("preserve"))!;
    assert.ok(preserve.batchnorms > 0, `${model.name}: PRESERVE keeps the BatchNorms`);
  }
});

for (const model of familyModels()) {
  for (const { file } of model.files) {
    Deno.test(`${file} deploys to the published form and matches PyTorch`, async () => {
      const training = await loadOnnx(FAMILIES + file, { batch: 1 });
      const { graph } = runPipeline(training, { verify: true });
      assert.deepEqual(summarize(graph).ops, PUBLISHED[model.name], printGraph(graph));
      const y = interpret(graph, { x: familyInput(model.name) }).y;
      assertClose(y, familyExpected(model.name), float32Tolerance(model, 3), file);
      if (!model.state_dict) await snap.match(file, printGraph(graph));
    });
  }
}

snap.checkOrphans();
