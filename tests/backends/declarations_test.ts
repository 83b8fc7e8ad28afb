// model.d.ts of every target comes from one generator (backends/declarations.ts):
// each must type-check whatever the model's names hold, document every input and
// output, and keep the members that its target's model.js provides.
import assert from "node:assert/strict";
import { BACKENDS } from "../../backends/mod.ts";
import { GraphBuilder, uniform } from "../../ir/mod.ts";
import { join } from "../_path.ts";

// Names that would end a doc comment or a string if written unescaped.
const INPUT = 'in */ put\n"q"', OUTPUT = "o*/ut";

function oddGraph() {
  const b = new GraphBuilder("odd");
  const x = b.input(INPUT, [2, 4]);
  const w = b.weight("w", [3, 4], uniform(12, 3));
  b.output(OUTPUT, b.linear(x, w));
  b.output("relu", b.relu(x));
  return b.build();
}

// What each target's model.js adds to the contract, so its types must declare.
const TARGET_MEMBERS: Record<string, readonly string[]> = {
  js: [],
  wasm: ["readonly threads?: number;", "readonly engine: string;"],
  webgpu: [
    "readonly device?: GPUDevice;",
    "readonly emulateF16?: boolean;",
    "export type Inputs",
    "readonly precision: string;",
    "runOnGpu(x: Float32Array | Inputs)",
    "export declare const shaders",
  ],
};

Deno.test("model.d.ts of every target: escaped names, every port, the target's members", async () => {
  const dir = await Deno.makeTempDir({ prefix: "refold_dts_" });
  try {
    const paths: string[] = [];
    for (const [target, members] of Object.entries(TARGET_MEMBERS)) {
      const result = await BACKENDS[target].emit(oddGraph());
      const dts = result.files.find((file) => file.path === "model.d.ts")!.contents as string;
      for (
        const expected of [
          "export interface TensorInfo",
          "readonly weights?: string | URL | ArrayBuffer | Uint8Array;",
          `${JSON.stringify(INPUT).replaceAll("*/", "*\\/")}: float32[2, 4]`,
          `${JSON.stringify(OUTPUT).replaceAll("*/", "*\\/")}: float32[2, 3]`,
          '"relu": float32[2, 4]',
          "run(",
          "dispose(): void;",
          "load(options?: LoadOptions): Promise<Model>;",
          ...members,
        ]
      ) assert.ok(dts.includes(expected), `${target} model.d.ts lacks ${expected}`);
      const path = join(dir, `${target}.d.ts`);
      await Deno.writeTextFile(path, dts);
      paths.push(path);
    }
    const check = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", "--no-config", ...paths],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(check.code, 0, new TextDecoder().decode(check.stderr));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
