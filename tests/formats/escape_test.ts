// The model's folder is a boundary: files a model names (ONNX external data, model.json's
// weights.file) must lie inside it after symbolic links are resolved, and no error message
// quotes the bytes of a file it refused.
import assert from "node:assert/strict";
import { loadModel } from "../../formats/mod.ts";
import { importOnnx } from "../../formats/onnx/mod.ts";
import { DataType } from "../../formats/onnx/proto.ts";
import { RefoldError } from "../../ir/mod.ts";
import { join } from "../_path.ts";
import { onnxModel } from "../onnx/_helpers.ts";
import { rawSafetensors } from "./_helpers.ts";

const SECRET = "root:x:0:0:root:/root:/bin/bash\n";

/** A folder holding `model/` and a secret file beside it (outside the model's folder). */
function withFolders(fn: (model: string, secret: string) => Promise<void> | void) {
  return async () => {
    const dir = await Deno.makeTempDir({ prefix: "refold-escape-" });
    try {
      Deno.mkdirSync(join(dir, "model"));
      Deno.writeTextFileSync(join(dir, "secret"), SECRET.repeat(4));
      await fn(join(dir, "model"), join(dir, "secret"));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  };
}

async function message(action: () => unknown): Promise<string> {
  try {
    await action();
  } catch (error) {
    if (!(error instanceof RefoldError)) throw error;
    return error.message;
  }
  return assert.fail("expected a RefoldError");
}

/** An ONNX model adding a 16-float initializer kept in external data at `location`. */
function externalModel(location: string): Uint8Array {
  return onnxModel({
    inputs: [["x", [1, 16]]],
    outputs: ["y"],
    initializers: [{
      name: "w",
      dims: [16],
      data_type: DataType.FLOAT,
      data_location: 1,
      external_data: [{ key: "location", value: location }],
    }],
    nodes: [{ op: "Add", inputs: ["x", "w"], outputs: ["y"] }],
  });
}

Deno.test(
  "ONNX external data through a link out of the model's folder is refused",
  withFolders(async (model, secret) => {
    Deno.symlinkSync(secret, join(model, "leak"));
    const file = join(model, "m.onnx");
    assert.equal(
      await message(() => importOnnx(externalModel("leak"), { file })),
      `${file}: initializer "w": external data location "leak" leads out of the model's folder ` +
        "through a symbolic link",
    );
    // A linked folder on the way out is the same escape.
    Deno.symlinkSync(join(secret, ".."), join(model, "up"));
    assert.match(
      await message(() => importOnnx(externalModel("up/secret"), { file })),
      /"up\/secret" leads out of the model's folder/,
    );
    // Links that stay inside are fine.
    Deno.writeFileSync(
      join(model, "real.bin"),
      new Uint8Array(new Float32Array(16).fill(2).buffer),
    );
    Deno.symlinkSync(join(model, "real.bin"), join(model, "inside"));
    const graph = importOnnx(externalModel("inside"), { file });
    assert.deepEqual([...graph.outputs[0].node.inputs[1].data!], new Array(16).fill(2));
  }),
);

/** model.json with one conv whose weights live in `weightsFile`. */
function modelJson(weightsFile: string): string {
  return JSON.stringify({
    format: "refold-model",
    version: 1,
    inputs: [{ name: "x", shape: [1, 2] }],
    nodes: [{ name: "y", op: "add", inputs: ["x", "b"] }],
    outputs: ["y"],
    weights: { file: weightsFile },
  });
}

const WEIGHTS = rawSafetensors([{
  name: "b",
  dtype: "F32",
  shape: [2],
  bytes: new Uint8Array(new Float32Array([1, 2]).buffer),
}]);

Deno.test(
  "model.json weights.file may not climb out with .. nor through a link",
  withFolders(async (model, secret) => {
    const file = join(model, "model.json");
    Deno.writeTextFileSync(file, modelJson("../secret"));
    assert.equal(
      await message(() => loadModel(file)),
      `${file}: $.weights.file: "../secret" leaves the model's folder (it uses ..)`,
    );
    Deno.writeTextFileSync(file, modelJson("sub/../../secret"));
    assert.match(await message(() => loadModel(file)), /leaves the model's folder/);
    Deno.symlinkSync(secret, join(model, "w.safetensors"));
    Deno.writeTextFileSync(file, modelJson("w.safetensors"));
    const refused = await message(() => loadModel(file));
    assert.equal(
      refused,
      `${file}: $.weights.file: "w.safetensors" leads out of the model's folder through a ` +
        "symbolic link",
    );
    // Inside, links are fine.
    Deno.mkdirSync(join(model, "w"));
    Deno.writeFileSync(join(model, "w", "real.safetensors"), WEIGHTS);
    Deno.symlinkSync(join(model, "w", "real.safetensors"), join(model, "ok.safetensors"));
    Deno.writeTextFileSync(file, modelJson("ok.safetensors"));
    const graph = await loadModel(file);
    assert.deepEqual([...graph.outputs[0].node.inputs[1].data!], [1, 2]);
  }),
);

Deno.test(
  "a weights file that is no safetensors: the error quotes none of its bytes",
  withFolders(async (model) => {
    const file = join(model, "model.json");
    Deno.writeTextFileSync(join(model, "notes.txt"), SECRET.repeat(4));
    Deno.writeTextFileSync(file, modelJson("notes.txt"));
    const refused = await message(() => loadModel(file));
    assert.match(refused, /notes\.txt: header length prefix/);
    // The length field is the file's first 8 bytes: as a number, it would spell them out.
    const first8 = new DataView(new TextEncoder().encode(SECRET).buffer).getBigUint64(0, true);
    assert.ok(!refused.includes(String(first8)), refused);
    assert.ok(!refused.includes("root"), refused);
    // A header that is JSON-ish text: no character of it is quoted either.
    const text = '{"b": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, oops}';
    const bytes = new TextEncoder().encode(text);
    const file2 = new Uint8Array(8 + bytes.length + 8);
    new DataView(file2.buffer).setBigUint64(0, BigInt(bytes.length), true);
    file2.set(bytes, 8);
    Deno.writeFileSync(join(model, "bad.safetensors"), file2);
    Deno.writeTextFileSync(file, modelJson("bad.safetensors"));
    const bad = await message(() => loadModel(file));
    assert.match(bad, /header is not valid JSON \(line 1, column \d+\)/);
    assert.ok(!bad.includes('"o"') && !bad.includes("oops"), bad);
  }),
);
