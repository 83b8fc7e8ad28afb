// The webgpu module loads narrow weight files (see tests/backends/weight_file_test.ts for the
// decoder and the other targets).
import assert from "node:assert/strict";
import { webgpuBackend } from "../../backends/webgpu/mod.ts";
import { checkModule, sampleGraph } from "../backends/_weight_module.ts";
import { HAS_GPU, testDevice } from "./_helpers.ts";

Deno.test({
  name: "webgpu target, f16 weights on an f32 plan: the stored weights' outputs",
  ignore: !HAS_GPU,
  async fn() {
    const device = await testDevice();
    for (const inlineWeightLimit of [0, 1 << 20]) {
      await checkModule(webgpuBackend, { weightDType: "f16", inlineWeightLimit }, { device });
    }
    await assert.rejects(
      () => webgpuBackend.emit(sampleGraph(), { f16: true, weightDType: "f32" }),
      /--f16 stores weights as f16; --weight-dtype f32 contradicts it/,
    );
  },
});
