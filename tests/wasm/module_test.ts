// The emitted directory honours docs/module-contract.md: model.js imported from a temp dir
// under Deno (and Node 20 when present), weights next to it or embedded, inputs checked,
// outputs owned by the caller, overlapping runs, dispose.
import assert from "node:assert/strict";
import { GraphBuilder, interpret, uniform } from "../../ir/mod.ts";
import { wasmBackend } from "../../backends/wasm/mod.ts";
import type { EmitResult } from "../../backends/backend.ts";
import { assertClose } from "../_assert.ts";
import { v1BlockGraph } from "./_deployed.ts";

const BLOCK = v1BlockGraph({
  batch: 1,
  channels: 8,
  outChannels: 8,
  height: 14,
  width: 14,
  h: 7,
  w: 7,
  groups: 4,
  reduction: 2,
});

async function writeOut(result: EmitResult): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "refold_wasm_" });
  for (const file of result.files) {
    const bytes = typeof file.contents === "string"
      ? new TextEncoder().encode(file.contents)
      : file.contents;
    await Deno.writeFile(`${dir}/${file.path}`, bytes);
  }
  return dir;
}

// deno-lint-ignore no-explicit-any
type Loaded = any;

Deno.test("module: model.js with weights.bin honours the contract", async () => {
  const result = await wasmBackend.emit(BLOCK, { inlineWeightLimit: 0 });
  assert.deepEqual(result.files.map((f) => f.path).sort(), [
    "model.d.ts",
    "model.js",
    "weights.bin",
  ]);
  assert.ok(result.notes.some((note) => /^peak activation memory: \d+ bytes/.test(note)));
  const js = result.files.find((f) => f.path === "model.js")!.contents as string;
  assert.ok(js.length < 64 * 1024, `model.js is ${js.length} bytes`);
  assert.ok(!/^\s*import\s/m.test(js), "model.js has no static imports");
  const dir = await writeOut(result);
  const { load } = await import(`file://${dir}/model.js`);
  const model: Loaded = await load();
  assert.deepEqual(model.inputs, [{ name: "x", shape: [1, 8, 14, 14], dtype: "float32" }]);
  assert.deepEqual(model.outputs, [{ name: "y", shape: [1, 8, 14, 14], dtype: "float32" }]);
  const x1 = uniform(8 * 14 * 14, 1), x2 = uniform(8 * 14 * 14, 2);
  const y1: Float32Array = await model.run(x1);
  assertClose(y1, interpret(BLOCK, { x: x1 }).y, 1e-6, "run(Float32Array)");
  const kept = y1.slice();
  const [a, b] = await Promise.all([model.run({ x: x2 }), model.run(x1)]);
  assertClose(a.y, interpret(BLOCK, { x: x2 }).y, 1e-6, "overlapping run with a record");
  assert.deepEqual(b, kept);
  assert.deepEqual(y1, kept, "a later run must not overwrite an earlier output");
  await assert.rejects(
    model.run(new Float32Array(5)),
    (e: Error) => e instanceof TypeError && /"x"/.test(e.message) && /1,8,14,14/.test(e.message),
  );
  await assert.rejects(model.run({}), TypeError);
  model.dispose();
  await assert.rejects(model.run(x1), /dispose/);
  const bytes = await Deno.readFile(`${dir}/weights.bin`);
  const fromBytes: Loaded = await load({ weights: bytes, engine: "simd" });
  assert.equal(fromBytes.engine, "simd");
  assertClose(await fromBytes.run(x1), interpret(BLOCK, { x: x1 }).y, 1e-6, "plain SIMD module");
  await assert.rejects(load({ weights: bytes.subarray(4) }), /weights hold/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("module: small weights are embedded; several inputs and outputs use records", async () => {
  const b = new GraphBuilder("two");
  const x = b.input("x", [3, 5]), y = b.input("y", [3, 5]);
  b.output("sum", b.add(x, y));
  b.output("fc", b.linear(b.relu(x), b.weight("w", [2, 5], uniform(10, 3))));
  const graph = b.build();
  const result = await wasmBackend.emit(graph);
  assert.deepEqual(result.files.map((f) => f.path).sort(), ["model.d.ts", "model.js"]);
  const dts = result.files.find((f) => f.path === "model.d.ts")!.contents as string;
  assert.ok(dts.includes('"fc": float32[3, 2]') && dts.includes("Record<string, Float32Array>"));
  const dir = await writeOut(result);
  const model: Loaded = await (await import(`file://${dir}/model.js`)).load();
  const feeds = { x: uniform(15, 4), y: uniform(15, 5) };
  const out = await model.run(feeds);
  const expected = interpret(graph, feeds);
  assertClose(out.sum, expected.sum, 2e-7, "sum");
  assertClose(out.fc, expected.fc, 2e-7, "fc");
  await assert.rejects(model.run(feeds.x), /2 inputs/);
  await Deno.remove(dir, { recursive: true });
});

const hasNode = (() => {
  try {
    return new Deno.Command("node", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "module: model.js runs under Node (relaxed-simd flag on and off)",
  ignore: !hasNode,
  async fn() {
    const result = await wasmBackend.emit(BLOCK, { inlineWeightLimit: 0 });
    const dir = await writeOut(result);
    const script = `
      const { load } = await import(${JSON.stringify(`file://${dir}/model.js`)});
      const model = await load();
      const x = new Float32Array(${8 * 14 * 14}).map((_, i) => Math.sin(i));
      const y = await model.run(x);
      console.log(JSON.stringify({ engine: model.engine, y: Array.from(y) }));`;
    await Deno.writeTextFile(`${dir}/run.mjs`, script);
    const x = new Float32Array(8 * 14 * 14).map((_, i) => Math.sin(i));
    const expected = interpret(BLOCK, { x }).y;
    const runs: [string[], string][] = [
      [["--experimental-wasm-relaxed-simd"], "relaxed-simd"],
      [[], "simd"],
    ];
    for (const [flags, engine] of runs) {
      const out = await new Deno.Command("node", { args: [...flags, `${dir}/run.mjs`] }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      const parsed = JSON.parse(new TextDecoder().decode(out.stdout));
      assert.equal(parsed.engine, engine);
      assertClose(parsed.y, expected, 1e-6, `node ${flags.join(" ")}`);
    }
    await Deno.remove(dir, { recursive: true });
  },
});
