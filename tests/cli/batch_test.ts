// --batch: without it the model keeps its own batch size (an ONNX input exported with a static
// batch of 2 used to be compiled for batch 1); with it, the batch size is replaced.
import assert from "node:assert/strict";
import { join } from "../_path.ts";
import { onnxModel } from "../onnx/_helpers.ts";
import { runCli } from "./_run.ts";

Deno.test("CLI --batch: a static ONNX batch is kept by default and replaced by --batch", async () => {
  const dir = await Deno.makeTempDir({ prefix: "refold-batch-" });
  try {
    const model = join(dir, "m.onnx");
    Deno.writeFileSync(
      model,
      onnxModel({
        inputs: [["x", [2, 3]]],
        outputs: ["y"],
        nodes: [{ op: "Relu", inputs: ["x"], outputs: ["y"] }],
      }),
    );
    for (const [flags, shape] of [[[], "2,3"], [["--batch", "4"], "4,3"]] as const) {
      const out = join(dir, `out${flags.length}`);
      const result = await runCli([model, "--out", out, "--emit-ir", ...flags]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`\\(inputs x \\[${shape}\\]\\)`));
      assert.match(Deno.readTextFileSync(join(out, "model.ir")), new RegExp(`f32\\[${shape}\\]`));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
