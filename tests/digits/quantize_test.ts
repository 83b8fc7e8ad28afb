// --target onnx --quantize int8 on the digits network trained by PyTorch: a standard dynamic-
// quantized ONNX model (DynamicQuantizeLinear, MatMulInteger, ConvInteger) that onnxruntime-web
// runs, within 0.5 percentage points of the f32 model's top-1 accuracy on the test split and with
// per-image cosine similarity >= 0.995 to its logits (measured: same accuracy, 1 - 3.8e-4); and
// onnx.checker (full check, with shape inference) accepts it and the f16/int8-weight exports,
// where /usr/bin/python3 has the onnx package.
import assert from "node:assert/strict";
import { BACKENDS } from "../../backends/mod.ts";
import { exportOnnx } from "../../formats/onnx/mod.ts";
import { decodeModel } from "../../formats/onnx/proto.ts";
import { join } from "../_path.ts";
import { correct, deployedDigits, loadDigits, percent, runOnnx, worstCosine } from "./_digits.ts";

const digits = loadDigits();
const deployed = deployedDigits();

Deno.test("digits: the int8 ONNX model keeps the f32 model's accuracy in ONNX Runtime", async () => {
  const graph = await deployed;
  const emitted = await BACKENDS.onnx.emit(graph, { quantize: "int8" });
  const bytes = emitted.files[0].contents as Uint8Array;
  const ops = decodeModel(bytes, "digits").graph!.node!.map((node) => node.op_type!);
  const count = (op: string) => ops.filter((o) => o === op).length;
  // The four large FCs (the global perceptron's fc1 and fc2, both fc3s) and the 2x2
  // down-sampling conv; the small convs and the classifier stay f32.
  assert.equal(count("DynamicQuantizeLinear"), 5);
  assert.equal(count("MatMulInteger"), 4);
  assert.equal(count("ConvInteger"), 1);
  const f32 = await runOnnx(digits, exportOnnx(graph));
  const int8 = await runOnnx(digits, bytes);
  const accuracy = percent(digits, correct(digits, int8));
  const f32Accuracy = percent(digits, correct(digits, f32));
  assert.ok(Math.abs(accuracy - f32Accuracy) <= 0.5, `${accuracy}% against ${f32Accuracy}%`);
  const cosine = worstCosine(digits, int8, f32);
  assert.ok(cosine >= 0.995, `worst per-image cosine ${cosine}`);
  assert.ok(emitted.weights!.bytes < 0.3 * emitted.weights!.f32Bytes);
});

const PYTHON = "/usr/bin/python3";

function pythonHasOnnx(): boolean {
  try {
    const { code } = new Deno.Command(PYTHON, { args: ["-c", "import onnx"], stderr: "null" })
      .outputSync();
    return code === 0;
  } catch {
    return false;
  }
}

const CHECK = `
import sys, onnx
for path in sys.argv[1:]:
    onnx.checker.check_model(onnx.load(path), full_check=True)
print("ok")
`;

Deno.test({
  name: "digits: onnx.checker accepts the int8, f16-weight and int8-weight exports",
  ignore: !pythonHasOnnx(),
  async fn() {
    const graph = await deployed;
    const dir = await Deno.makeTempDir({ prefix: "refold_checker_" });
    try {
      const paths: string[] = [];
      const variants = [{ quantize: "int8" }, { weightDType: "f16" }, { weightDType: "int8" }];
      for (const [i, options] of variants.entries()) {
        const emitted = await BACKENDS.onnx.emit(graph, options as never);
        paths.push(join(dir, `model${i}.onnx`));
        await Deno.writeFile(paths[i], emitted.files[0].contents as Uint8Array);
      }
      const { code, stdout, stderr } = await new Deno.Command(PYTHON, {
        args: ["-c", CHECK, ...paths],
      }).output();
      const text = new TextDecoder().decode(stderr);
      assert.equal(code, 0, text);
      assert.equal(new TextDecoder().decode(stdout).trim(), "ok");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
