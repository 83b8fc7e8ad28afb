// run()'s input checks, shared by every target's model.js: a wrong array type, a plain array or
// a missing input is a TypeError naming the input, the Float32Array it needs and its shape
// (a Float64Array used to be read as a record and reported as `unknown input "0"`).
import assert from "node:assert/strict";
import { normalizeInputs, type TensorInfo } from "../../backends/runtime/io.ts";
import { jsBackend } from "../../backends/js/mod.ts";
import { GraphBuilder } from "../../ir/mod.ts";
import { join } from "../_path.ts";

const ONE: TensorInfo[] = [{ name: "image", shape: [1, 3, 2, 2], dtype: "float32" }];
const TWO: TensorInfo[] = [...ONE, { name: "mask", shape: [1, 4], dtype: "float32" }];

function typeError(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof TypeError, String(error));
    return error.message;
  }
  return assert.fail("expected a TypeError");
}

Deno.test("run() inputs: wrong arrays name the input, Float32Array and the shape", () => {
  const needs = 'input "image" must be a Float32Array of 12 values (shape [1,3,2,2])';
  for (
    const [given, got] of [
      [new Float64Array(12), "a Float64Array"],
      [new Int32Array(12), "an Int32Array"],
      [new Array(12).fill(0), "an array"],
      [new ArrayBuffer(48), "an ArrayBuffer"],
      [null, "null"],
      [3, "a number"],
    ] as const
  ) {
    assert.equal(
      typeError(() => normalizeInputs(ONE, given as never)),
      `refold: ${needs}, got ${got}`,
    );
  }
  assert.equal(
    typeError(() => normalizeInputs(ONE, { image: new Float64Array(12) } as never)),
    `refold: ${needs}, got a Float64Array`,
  );
  assert.equal(
    typeError(() => normalizeInputs(TWO, new Float64Array(12) as never)),
    'refold: run() takes a record of name -> Float32Array for the inputs "image", "mask", got ' +
      "a Float64Array",
  );
  assert.equal(
    typeError(() => normalizeInputs(TWO, { image: new Float32Array(12) })),
    'refold: input "mask" is missing; pass a Float32Array of 4 values (shape [1,4])',
  );
  assert.equal(
    typeError(() => normalizeInputs(ONE, { imgae: new Float32Array(12) })),
    'refold: unknown input "imgae"; the inputs are "image"',
  );
  assert.equal(
    typeError(() => normalizeInputs(ONE, new Float32Array(11))),
    'refold: input "image" has 11 values; shape [1,3,2,2] needs 12',
  );
});

Deno.test("run() inputs: a generated module rejects a Float64Array with the same message", async () => {
  const b = new GraphBuilder("g");
  b.output("y", b.relu(b.input("image", [1, 3, 2, 2])));
  const { files } = await jsBackend.emit(b.build());
  const dir = await Deno.makeTempDir({ prefix: "refold-run-" });
  try {
    for (const file of files) Deno.writeTextFileSync(join(dir, file.path), file.contents as string);
    const { load } = await import(`file://${dir}/model.js`);
    const model = await load();
    await assert.rejects(
      () => model.run(new Float64Array(12)),
      new TypeError(
        'refold: input "image" must be a Float32Array of 12 values (shape [1,3,2,2]), got a ' +
          "Float64Array",
      ),
    );
    model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
