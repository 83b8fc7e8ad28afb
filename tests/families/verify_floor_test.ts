// --verify on a badly conditioned network: MobileOne-S0 at reduced width with random BatchNorm
// statistics moves its outputs by ~5e-6 when its weights move by one ulp (PyTorch's own float32
// forward is 4.5e-6 off its float64 one), so the fixed 1e-6 floor would refuse correct passes.
// The default tolerance follows the model's float32 noise floor instead, and still catches a
// dropped BatchNorm epsilon there.
import assert from "node:assert/strict";
import { DEFAULT_VERIFY_TOLERANCE, runPasses, runPipeline } from "../../compiler/mod.ts";
import { loadOnnx } from "../../formats/onnx/mod.ts";
import { RefoldError } from "../../ir/mod.ts";
import { PIPELINE_WITHOUT_EPSILON } from "../passes/_broken_passes.ts";
import { FAMILIES } from "./_fixtures.ts";

const MODEL = FAMILIES + "mobileone_s0_small.preserve_op17.onnx";

Deno.test("--verify: a deep net passes by its noise floor, where 1e-6 alone would refuse it", async () => {
  const training = await loadOnnx(MODEL, { batch: 1 });
  const { reports } = runPipeline(training, { verify: true });
  const worst = Math.max(...reports.map((report) => report.totalRelError!));
  assert.ok(worst > DEFAULT_VERIFY_TOLERANCE, `${worst}: the fixture no longer needs the floor`);
  assert.throws(
    () => runPipeline(training, { verify: { tolerance: DEFAULT_VERIFY_TOLERANCE } }),
    /--verify: pass [a-z-]+ .* above the tolerance 1\.00e-6$/,
  );
});

Deno.test("--verify: on that net, a fold-batchnorm that drops epsilon still fails", async () => {
  const training = await loadOnnx(MODEL, { batch: 1 });
  assert.throws(
    () => runPasses(training, PIPELINE_WITHOUT_EPSILON, { verify: true }),
    (error: unknown) =>
      error instanceof RefoldError &&
      /^--verify: pass fold-batchnorm changed output "y" by .*float32 noise floor/.test(
        error.message,
      ),
  );
});
