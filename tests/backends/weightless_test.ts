// A graph without weights embeds an empty weight file: model.js must not go looking for a
// weights.bin that was never written (an empty base64 string is still an embedding).
import assert from "node:assert/strict";
import { jsBackend } from "../../backends/js/mod.ts";
import { wasmBackend } from "../../backends/wasm/mod.ts";
import { GraphBuilder } from "../../ir/mod.ts";
import { join } from "../_path.ts";

for (const backend of [jsBackend, wasmBackend]) {
  for (const weightDType of ["f32", "f16"] as const) {
    Deno.test(`${backend.name}, ${weightDType}: a graph without weights loads and runs`, async () => {
      const b = new GraphBuilder("g");
      b.output("y", b.relu(b.input("x", [1, 5])));
      const { files } = await backend.emit(b.build(), { weightDType });
      assert.deepEqual(files.map((file) => file.path).sort(), ["model.d.ts", "model.js"]);
      const dir = await Deno.makeTempDir({ prefix: "refold-weightless-" });
      try {
        for (const file of files) Deno.writeFileSync(join(dir, file.path), bytesOf(file.contents));
        const model = await (await import(`file://${dir}/model.js`)).load();
        const y = await model.run(Float32Array.of(-2, -0.5, 0, 0.5, 2));
        assert.deepEqual([...y], [0, 0, 0, 0.5, 2]);
        model.dispose();
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
}

function bytesOf(contents: string | Uint8Array): Uint8Array {
  return typeof contents === "string" ? new TextEncoder().encode(contents) : contents;
}
