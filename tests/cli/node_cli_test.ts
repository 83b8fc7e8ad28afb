// The single-file Node CLI (dist/refold.mjs, `deno task build:node`): built here into a temp
// folder, run with node as a JavaScript user without Deno would, on model.json and on ONNX.
// Its output must be what the Deno CLI writes (the same weights and types; model.js linked
// ahead of time instead of by esbuild) and must compute what the interpreter computes.
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { buildNodeCli } from "../../cli/node/build.ts";
import { loadModelFile } from "../../formats/mod.ts";
import { interpret, sizeOf, uniform } from "../../ir/mod.ts";
import { assertClose } from "../_assert.ts";
import { join } from "../_path.ts";
import { compileFile } from "../../mod.ts";
import { ROOT } from "./_run.ts";

const BLOCK = join(ROOT, "examples", "models", "repmlp_block");
const ONNX = join(ROOT, "tests", "fixtures", "onnx", "repmlp_block.preserve_op17.onnx");

async function node(cwd: string, args: string[]) {
  const result = await new Deno.Command("node", { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder();
  return {
    code: result.code,
    stdout: text.decode(result.stdout),
    stderr: text.decode(result.stderr),
  };
}

async function runModule(dir: string, model: string, input: Float32Array) {
  const { load } = await import(join(dir, "model.js"));
  const loaded = await load();
  const y = await loaded.run(input);
  loaded.dispose();
  return { y, name: loaded.inputs[0].name, model };
}

Deno.test("node dist/refold.mjs compiles like compile.ts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "refold-node-cli-" });
  try {
    const cli = join(dir, "dist", "refold.mjs");
    await buildNodeCli(cli);
    for (const file of ["model.json", "model.safetensors"]) {
      await Deno.copyFile(join(BLOCK, file), join(dir, file));
    }
    for (const [model, target] of [["model.json", "wasm"], [ONNX, "js"], [ONNX, "webgpu"]]) {
      const out = join(dir, `out-${target}`);
      const result = await node(dir, [cli, model, "--target", target, "--out", out]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`wrote .*out-${target}/ \\(model\\.js`));
      // What compile.ts writes, compiled here by the same library code.
      const library = await compileFile(resolve(dir, model), { target });
      const written = [...Deno.readDirSync(out)].map((entry) => entry.name).sort();
      // The CLI adds its manifest to what the library emits (docs/cli.md, the output directory).
      assert.deepEqual(
        written,
        [".refold-manifest.json", ...library.files.map((file) => file.path)].sort(),
      );
      for (const file of library.files.filter((file) => file.path !== "model.js")) {
        const contents = typeof file.contents === "string"
          ? new TextEncoder().encode(file.contents)
          : file.contents;
        assert.deepEqual(
          await Deno.readFile(join(out, file.path)),
          contents,
          `${target} ${file.path} differs from the Deno CLI's`,
        );
      }
      if (target === "webgpu") continue;
      const training = await loadModelFile(resolve(dir, model));
      const [input] = training.inputs;
      const x = uniform(sizeOf(input.type.shape), 9);
      const { y } = await runModule(out, model, x);
      const expected = interpret(training, { [input.attrs.name]: x });
      assertClose(y, expected[training.outputs[0].name], 2e-6, `${target} from the Node CLI`);
    }

    const missing = await node(dir, [cli, "nothere.onnx"]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, "refold: error: nothere.onnx: file not found\n");
    const help = await node(dir, [cli, "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^usage: /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
