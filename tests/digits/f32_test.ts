// The digits network trained by PyTorch (tests/fixtures/digits), deployed by the whole pipeline
// and run in f32 by the js and wasm targets and by ONNX Runtime on the onnx target's export: each
// classifies the 360 test images as PyTorch does (same top-1 accuracy) with logits within float32
// rounding of PyTorch's (float64) logits. The smallest top-2 margin in PyTorch's logits is 0.098,
// five orders of magnitude above the differences allowed here.
import assert from "node:assert/strict";
import { BACKENDS } from "../../backends/mod.ts";
import { exportOnnx } from "../../formats/onnx/mod.ts";
import { assertClose } from "../_assert.ts";
import {
  correct,
  deployedDigits,
  loadDigits,
  percent,
  runModule,
  runOnnx,
  writeModule,
} from "./_digits.ts";

const digits = loadDigits();
const deployed = deployedDigits();

/** Relative to PyTorch's largest logit; what float32 reaches here is 1e-7 to 4e-7. */
const F32_TOLERANCE = 1e-6;

function checkAgainstTorch(logits: Float32Array, what: string): void {
  const right = correct(digits, logits);
  assert.equal(
    right,
    digits.meta.torch_correct_float32,
    `${what}: ${percent(digits, right)}% top-1, PyTorch ${
      percent(digits, digits.meta.torch_correct_float32)
    }%`,
  );
  assertClose(logits, digits.torchLogits, F32_TOLERANCE, `${what} vs PyTorch's logits`);
}

Deno.test("digits fixture: PyTorch's logits agree with its recorded accuracy", () => {
  assert.equal(correct(digits, digits.torchLogits), digits.meta.torch_correct_float32);
  assert.equal(digits.count * digits.classes, digits.torchLogits.length);
  assert.equal(digits.labels.length, digits.count);
});

for (const target of ["js", "wasm"] as const) {
  Deno.test(`digits: the deployed f32 ${target} module classifies as PyTorch does`, async () => {
    const dir = await writeModule(await BACKENDS[target].emit(await deployed));
    try {
      checkAgainstTorch(await runModule(digits, dir), `${target} target`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("digits: ONNX Runtime on the deployed f32 export classifies as PyTorch does", async () => {
  checkAgainstTorch(await runOnnx(digits, exportOnnx(await deployed)), "onnx target");
});
