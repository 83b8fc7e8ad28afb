// The deployed family blocks on WebGPU (the whole networks stay on js and wasm: llvmpipe compiles
// every shader, slowly), run through the module the target writes, against PyTorch's float64
// outputs within a few times PyTorch's own float32 error.
import { runPipeline } from "../../compiler/mod.ts";
import { loadOnnx } from "../../formats/onnx/mod.ts";
import { assertClose } from "../_assert.ts";
import {
  FAMILIES,
  familyExpected,
  familyInput,
  familyModels,
  float32Tolerance,
} from "../families/_fixtures.ts";
import { runTarget } from "../families/_targets.ts";
import { HAS_GPU, testDevice } from "./_helpers.ts";

for (const model of familyModels()) {
  const file = model.files.find((f) => f.file.includes("preserve"))!.file;
  Deno.test({
    name: `${model.name} deployed runs on webgpu and matches PyTorch`,
    ignore: !HAS_GPU || model.state_dict !== null,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const { graph } = runPipeline(await loadOnnx(FAMILIES + file, { batch: 1 }));
      const y = await runTarget(graph, "webgpu", familyInput(model.name), {
        device: await testDevice(),
      });
      assertClose(y, familyExpected(model.name), float32Tolerance(model, 3), "webgpu");
    },
  });
}
