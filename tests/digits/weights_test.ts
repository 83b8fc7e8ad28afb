// --weight-dtype f16 and int8 on the digits network trained by PyTorch: top-1 accuracy on the
// test split within 0.5 percentage points of the f32 model (js and onnx targets, and wasm f16),
// outputs close to f32 (per image cosine similarity: int8 >= 0.995, f16 >= 1 - 1e-5; measured
// 1 - 1.0e-3 and 1 - 7.7e-7), weights half (f16) or under 27% (int8) of their f32 bytes.
import assert from "node:assert/strict";
import { BACKENDS } from "../../backends/mod.ts";
import type { WeightDType } from "../../ir/mod.ts";
import {
  correct,
  deployedDigits,
  loadDigits,
  percent,
  runModule,
  runOnnx,
  worstCosine,
  writeModule,
} from "./_digits.ts";

const digits = loadDigits();
const deployed = deployedDigits();
let reference: Promise<Float32Array> | undefined;

/** The f32 js module's logits, computed once; esbuild must not bundle two modules at a time. */
function f32Logits(): Promise<Float32Array> {
  return reference ??= (async () => {
    const dir = await writeModule(await BACKENDS.js.emit(await deployed));
    try {
      return await runModule(digits, dir);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  })();
}

const MIN_COSINE: Record<Exclude<WeightDType, "f32">, number> = { f16: 1 - 1e-5, int8: 0.995 };
const MAX_SIZE: Record<Exclude<WeightDType, "f32">, number> = { f16: 0.5, int8: 0.27 };

const CASES = [
  ["js", "f16"],
  ["js", "int8"],
  ["wasm", "f16"],
  ["onnx", "f16"],
  ["onnx", "int8"],
] as const;

for (const [target, weightDType] of CASES) {
  Deno.test(`digits: ${weightDType} weights on the ${target} target keep f32's accuracy`, async () => {
    const f32 = await f32Logits();
    const emitted = await BACKENDS[target].emit(await deployed, { weightDType });
    let logits: Float32Array;
    if (target === "onnx") logits = await runOnnx(digits, emitted.files[0].contents as Uint8Array);
    else {
      const dir = await writeModule(emitted);
      try {
        logits = await runModule(digits, dir);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
    const accuracy = percent(digits, correct(digits, logits));
    const f32Accuracy = percent(digits, correct(digits, f32));
    assert.ok(
      Math.abs(accuracy - f32Accuracy) <= 0.5,
      `${accuracy}% top-1 against ${f32Accuracy}% in f32`,
    );
    const cosine = worstCosine(digits, logits, f32);
    assert.ok(cosine >= MIN_COSINE[weightDType], `worst per-image cosine ${cosine}`);
    const report = emitted.weights!;
    assert.ok(report.bytes <= MAX_SIZE[weightDType] * report.f32Bytes, JSON.stringify(report));
    const file = emitted.files.find((f) => f.path === "weights.bin");
    if (file) assert.equal(file.contents.length, report.bytes);
  });
}
