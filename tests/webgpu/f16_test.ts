/**
 * f16. On a device without "shader-f16" (the shared test device never asks
 * for it) an f16 model runs as "f16-weights" (f32 math on f16-rounded
 * weights) or, with emulateF16, with every stored activation rounded to f16
 * as a shader-f16 device stores it. Where the adapter offers shader-f16 the
 * native path (WGSL with `act = f16`) runs too; elsewhere (Mesa llvmpipe) that
 * test is skipped and the shaders are checked for type discipline instead:
 * every one must compile with the stored types aliased to i32, which fails
 * wherever stored and computed values mix without a conversion.
 */
import assert from "node:assert/strict";
import { type Graph, interpret } from "../../ir/mod.ts";
import { planWebGpu } from "../../backends/webgpu/mod.ts";
import { estimateF16Error } from "../../backends/webgpu/f16_error.ts";
import { decodeHalves, encodeHalves, fromHalf, toHalf } from "../../backends/webgpu/runtime/f16.ts";
import { compareArrays } from "../_assert.ts";
import { bottleneck, v1Graph, v2Unit } from "./_graphs.ts";
import { HAS_GPU, randomFeeds, runOnDevice, testAdapter, testDevice } from "./_helpers.ts";
import { createModel, weightFileBytes } from "../../backends/webgpu/mod.ts";

const V1 = v1Graph({ n: 1, c: 8, o: 8, h: 8, w: 8, ph: 4, pw: 4, groups: 2 });

/** Whether this machine's adapter offers shader-f16 (decides whether the native test runs). */
const NATIVE_F16 = HAS_GPU && (await testAdapter()).features.has("shader-f16");

function gpuTest(name: string, fn: () => Promise<void>, needs = HAS_GPU) {
  Deno.test({ name, ignore: !needs, fn, sanitizeResources: false, sanitizeOps: false });
}

Deno.test("f16 conversion: exact values, rounding to nearest even, subnormals, overflow", () => {
  assert.equal(toHalf(1), 0x3c00);
  assert.equal(toHalf(-2), 0xc000);
  assert.equal(toHalf(65504), 0x7bff);
  assert.equal(toHalf(65520), 0x7c00); // rounds up to infinity
  assert.equal(toHalf(2 ** -24), 0x0001);
  assert.equal(toHalf(2 ** -26), 0x0000);
  assert.equal(toHalf(1 + 2 ** -11), 0x3c00); // tie, to even
  assert.equal(toHalf(1 + 3 * 2 ** -11), 0x3c02); // tie, to even (up)
  assert.equal(fromHalf(0x3555), 0.333251953125);
  const values = Float32Array.from([0, -0.5, 3.140625, 1e-5, -70000]);
  assert.deepEqual([...decodeHalves(encodeHalves(values))], [
    0,
    -0.5,
    3.140625,
    fromHalf(toHalf(1e-5)),
    -Infinity,
  ]);
});

async function f16Error(graph: Graph, emulateF16: boolean): Promise<number> {
  const feeds = randomFeeds(graph);
  const expected = interpret(graph, feeds);
  const actual = await runOnDevice(graph, feeds, { f16: true, emulateF16 });
  return Math.max(
    ...graph.outputs.map(({ name }) => compareArrays(actual[name], expected[name]).relative),
  );
}

gpuTest(
  "f16 weights on a device without shader-f16: error of f16 rounding, not more",
  async () => {
    assert.equal((await testDevice()).features.has("shader-f16"), false);
    const error = await f16Error(V1, false);
    assert.ok(error > 1e-6 && error < 2e-3, `relative error ${error}`);
  },
);

gpuTest(
  "native f16 (shader-f16): f16 storage, f32 accumulation, as the emulation predicts",
  async () => {
    const adapter = await testAdapter();
    const device = await adapter.requestDevice({ requiredFeatures: ["shader-f16"] });
    try {
      const compiled = planWebGpu(V1, { f16: true });
      const model = await createModel(compiled.plan, import.meta.url, {}, {
        device,
        weights: weightFileBytes(compiled),
      });
      assert.equal(model.precision, "f16");
      const feeds = randomFeeds(V1);
      const native = await model.run(feeds) as Record<string, Float32Array>;
      model.dispose();
      const expected = interpret(V1, feeds);
      const emulated = await runOnDevice(V1, feeds, { f16: true, emulateF16: true });
      for (const { name } of V1.outputs) {
        const error = compareArrays(native[name], expected[name]).relative;
        assert.ok(error > 1e-6 && error < 1e-2, `${name}: relative error ${error}`);
        // Rounding order may differ from the emulation's by an f16 ulp here and there, no more.
        const apart = compareArrays(native[name], emulated[name]).relative;
        assert.ok(apart < 4e-3, `${name}: native and emulated f16 differ by ${apart}`);
      }
    } finally {
      device.destroy();
    }
  },
  NATIVE_F16,
);

gpuTest(
  "emulated f16 activations stay within f16 accuracy, as the compile-time estimate says",
  async () => {
    const weightsOnly = await f16Error(V1, false);
    const emulated = await f16Error(V1, true);
    assert.ok(emulated > weightsOnly * 0.5 && emulated < 1e-2, `${emulated} vs ${weightsOnly}`);
    // The CLI's estimate (CPU, other seeded inputs) is of the same order as the device's.
    const estimate = estimateF16Error(V1)!;
    assert.ok(estimate > emulated / 5 && estimate < emulated * 5, `${estimate} vs ${emulated}`);
  },
);

gpuTest(
  "every shader keeps stored and computed types apart (compiles with act = i32)",
  async () => {
    const device = await testDevice();
    const prelude = "alias act = i32;\nalias wt = i32;\nfn st(v: f32) -> act { return act(v); }\n";
    const graphs = [
      V1,
      v2Unit({ n: 1, c: 8, h: 8, w: 8, ph: 4, pw: 4, sets: 4 }),
      bottleneck({ n: 1, c: 8, hw: 16 }),
    ];
    for (const graph of graphs) {
      for (const code of planWebGpu(graph, { f16: true }).plan.shaders) {
        const module = device.createShaderModule({ code: prelude + code });
        const errors = (await module.getCompilationInfo()).messages.filter((m) =>
          m.type === "error"
        );
        assert.deepEqual(
          errors.map((m) => `${m.message} at line ${m.lineNum}`),
          [],
          code.split("\n")[0],
        );
      }
    }
  },
);
