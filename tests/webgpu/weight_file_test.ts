// The webgpu module loads narrow weight files, f16 and int8 (see tests/backends/weight_file_test.ts
// for the decoder and the other targets); --quantize int8 is refused, pointing to int8 storage.
import assert from "node:assert/strict";
import { webgpuBackend } from "../../backends/webgpu/mod.ts";
import { checkModule, sampleGraph } from "../backends/_weight_module.ts";
import { HAS_GPU, testDevice } from "./_helpers.ts";

Deno.test({
  name: "webgpu target, f16 and int8 weights on an f32 plan: the stored weights' outputs",
  ignore: !HAS_GPU,
  async fn() {
    const device = await testDevice();
    for (const weightDType of ["f16", "int8"] as const) {
      for (const inlineWeightLimit of [0, 1 << 20]) {
        const result = await checkModule(webgpuBackend, { weightDType, inlineWeightLimit }, {
          device,
        });
        const report = result.weights!;
        assert.deepEqual(report.dtypes, weightDType === "int8" ? ["int8", "f32"] : ["f16"]);
        assert.ok(report.bytes < report.f32Bytes / (weightDType === "int8" ? 2.5 : 1.9));
      }
    }
    // Without int8 compute, --quantize int8 is int8 storage, and says so.
    const quantized = await checkModule(webgpuBackend, { quantize: "int8", weightDType: "int8" }, {
      device,
    });
    assert.deepEqual(quantized.weights!.dtypes, ["int8", "f32"]);
    assert.ok(quantized.notes.some((note) => /int8 weight storage, f32 compute/.test(note)));
    const bare = await webgpuBackend.emit(sampleGraph(), { quantize: "int8" });
    assert.deepEqual(bare.weights!.dtypes, ["int8", "f32"]);
    await assert.rejects(
      () => webgpuBackend.emit(sampleGraph(), { quantize: "int8", weightDType: "f16" }),
      /--quantize int8 on webgpu stores int8 weights \(f32 compute\); --weight-dtype f16 contradicts it/,
    );
    await assert.rejects(
      () => webgpuBackend.emit(sampleGraph(), { f16: true, weightDType: "f32" }),
      /--f16 stores weights as f16; --weight-dtype f32 contradicts it/,
    );
  },
});
