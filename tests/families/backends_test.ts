// The deployed families on js and wasm (webgpu: tests/webgpu/families_test.ts), each run through
// the module it writes, against PyTorch's float64 outputs within a few times PyTorch's own
// float32 error.
import { runPipeline } from "../../compiler/mod.ts";
import { loadOnnx } from "../../formats/onnx/mod.ts";
import { assertClose } from "../_assert.ts";
import {
  FAMILIES,
  familyExpected,
  familyInput,
  familyModels,
  float32Tolerance,
} from "./_fixtures.ts";
import { runTarget, type Target } from "./_targets.ts";

const TARGETS: readonly Target[] = ["js", "wasm"];

for (const model of familyModels()) {
  const file = model.files.find((f) => f.file.includes("preserve"))!.file;
  for (const target of TARGETS) {
    Deno.test({
      name: `${model.name} deployed runs on ${target} and matches PyTorch`,
      sanitizeResources: false,
      sanitizeOps: false,
      fn: async () => {
        const { graph } = runPipeline(await loadOnnx(FAMILIES + file, { batch: 1 }));
        const y = await runTarget(graph, target, familyInput(model.name));
        assertClose(y, familyExpected(model.name), float32Tolerance(model, 3), `${target}`);
      },
    });
  }
}
