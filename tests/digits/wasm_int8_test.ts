// --target wasm --quantize int8 on the digits network trained by PyTorch: int8 GEMMs (7-bit
// activations quantized per row, int8 weights per output channel, exact i32 sums) keep the f32
// module's top-1 accuracy on the test split within 0.5 percentage points, with per-image cosine
// similarity >= 0.995 to its logits (measured: 99.17% both, worst cosine 0.99991 by default,
// 0.99957 with every GEMM but the stem in int8); and the rule keeps the first layer and the small
// GEMMs in f32, as the report says.
import assert from "node:assert/strict";
import { BACKENDS } from "../../backends/mod.ts";
import { compileModel } from "../../backends/wasm/compile.ts";
import {
  correct,
  deployedDigits,
  loadDigits,
  percent,
  runModule,
  worstCosine,
  writeModule,
} from "./_digits.ts";

const digits = loadDigits();
const deployed = deployedDigits();

async function logitsOf(options: Record<string, unknown>): Promise<Float32Array> {
  const emitted = await BACKENDS.wasm.emit(await deployed, options);
  const dir = await writeModule(emitted);
  try {
    return await runModule(digits, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("digits: wasm int8 GEMMs keep the f32 module's accuracy", async () => {
  const emitted = await BACKENDS.wasm.emit(await deployed, { quantize: "int8" });
  const note = emitted.notes.find((line) => line.startsWith("int8 compute:"))!;
  assert.match(note, /first layer \(reads a graph input\)/);
  const f32 = await logitsOf({});
  const runs = [
    { quantize: "int8" },
    { quantize: "int8", quantizeMinMacs: 0 },
    // The layers that stay f32 stored narrower too, the int8 GEMM weights passing through.
    { quantize: "int8", weightDType: "f16" },
    { quantize: "int8", weightDType: "int8", inlineWeightLimit: 1 << 20 },
  ];
  for (const options of runs) {
    const int8 = await logitsOf(options);
    const accuracy = percent(digits, correct(digits, int8));
    const f32Accuracy = percent(digits, correct(digits, f32));
    const what = JSON.stringify(options);
    assert.ok(
      Math.abs(accuracy - f32Accuracy) <= 0.5,
      `${what}: ${accuracy}% against ${f32Accuracy}%`,
    );
    const cosine = worstCosine(digits, int8, f32);
    assert.ok(cosine >= 0.995, `${what}: worst per-image cosine ${cosine}`);
    // Quantization does change the logits: the int8 path is really taken.
    assert.ok(cosine < 1 - 1e-7, `${what}: cosine ${cosine}`);
  }
});

Deno.test("digits: the int8 rule: first layer, small GEMMs and --quantize-skip stay f32", async () => {
  const graph = await deployed;
  const decided = (options: Record<string, unknown>) =>
    new Map(compileModel(graph, { quantize: options }).int8!.map((d) => [d.name, d]));
  const byDefault = decided({});
  const fc3 = "block1.light_repmlp.fc3.local.weight";
  assert.equal(
    byDefault.get("stem.conv.bnfold.weight")!.reason,
    "first layer (reads a graph input)",
  );
  assert.match(
    byDefault.get("block1.light_repmlp.fc1_fc2.fc2.weight")!.reason,
    /2048 multiply-adds < 65536/,
  );
  assert.equal(byDefault.get(fc3)!.int8, true);
  assert.deepEqual(
    [...byDefault.values()].filter((d) => d.int8).map((d) => d.name).length,
    2,
  );
  const skipped = decided({ skip: [fc3] }).get(fc3)!;
  assert.deepEqual([skipped.int8, skipped.reason], [false, "listed in --quantize-skip"]);
  // With no threshold and the first layer allowed, only the stem (a contraction of one
  // channel's 3x3 window) stays f32; the 2x2 stride-2 conv goes through im2col.
  const all = [...decided({ minMacs: 0, first: true }).values()];
  assert.deepEqual(
    all.filter((d) => !d.int8).map((d) => [d.name, d.reason]),
    [["stem.conv.bnfold.weight", "its contraction of 9 is under 16"]],
  );
  assert.throws(
    () => decided({ skip: ["fc9.weight"] }),
    /--quantize-skip: no linear\/conv2d weight named "fc9.weight" in graph/,
  );
});
