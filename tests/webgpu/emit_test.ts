/**
 * The emitted module: model.js written to a directory, imported and run as
 * an application would (docs/module-contract.md), with its weights in
 * weights.bin or embedded, its types checked by deno, and outputs chained
 * on the GPU from one model into another.
 */
import assert from "node:assert/strict";
import { interpret } from "../../ir/mod.ts";
import {
  createModel,
  planWebGpu,
  webgpuBackend,
  weightFileBytes,
} from "../../backends/webgpu/mod.ts";
import type { EmitResult } from "../../backends/backend.ts";
import { assertClose } from "../_assert.ts";
import { v1Graph } from "./_graphs.ts";
import { HAS_GPU, randomFeeds, testDevice } from "./_helpers.ts";

interface LoadedModule {
  load(options?: Record<string, unknown>): Promise<{
    inputs: { name: string; shape: number[]; dtype: string }[];
    outputs: { name: string; shape: number[]; dtype: string }[];
    precision: string;
    run(x: unknown): Promise<Float32Array | Record<string, Float32Array>>;
    runOnGpu(x: unknown): Promise<Record<string, GPUBuffer>>;
    dispose(): void;
  }>;
  shaders: string[];
}

async function writeOut(result: EmitResult): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "refold_webgpu_" });
  for (const file of result.files) {
    const path = `${dir}/${file.path}`;
    if (typeof file.contents === "string") await Deno.writeTextFile(path, file.contents);
    else await Deno.writeFile(path, file.contents);
  }
  return dir;
}

function gpuTest(name: string, fn: () => Promise<void>) {
  Deno.test({ name, ignore: !HAS_GPU, fn, sanitizeResources: false, sanitizeOps: false });
}

const SIZES = { n: 1, c: 8, o: 8, h: 8, w: 8, ph: 4, pw: 4, groups: 2 };

gpuTest("model.js with weights.bin: load, run, contract errors, overlapping runs", async () => {
  const graph = v1Graph(SIZES);
  const result = await webgpuBackend.emit(graph, { inlineWeightLimit: 0 });
  assert.deepEqual(result.files.map((file) => file.path).sort(), [
    "model.d.ts",
    "model.js",
    "weights.bin",
  ]);
  const js = result.files.find((file) => file.path === "model.js")!.contents as string;
  assert.ok(!/^\s*import\s/m.test(js), "model.js must not import anything");
  assert.ok(result.notes.some((note) => /kernels in \d+ dispatches/.test(note)));
  const dir = await writeOut(result);
  const mod: LoadedModule = await import(`file://${dir}/model.js`);
  assert.equal(mod.shaders.length > 0, true);
  const model = await mod.load(); // requests its own device
  assert.deepEqual(model.inputs, [{ name: "x", shape: [1, 8, 8, 8], dtype: "float32" }]);
  assert.equal(model.precision, "f32");
  const feeds = randomFeeds(graph);
  const expected = interpret(graph, feeds).y;
  const y = await model.run(feeds.x) as Float32Array;
  assert.ok(y instanceof Float32Array);
  assertClose(y, expected, 1e-6, "y");
  const record = await model.run({ x: feeds.x }) as Record<string, Float32Array>;
  assertClose(record.y, expected, 1e-6, "record y");
  // Overlapping runs each resolve with their own results.
  const other = randomFeeds(graph, 7);
  const [first, second] = await Promise.all([model.run(feeds.x), model.run(other.x)]);
  assertClose(first as Float32Array, expected, 1e-6, "first");
  assertClose(second as Float32Array, interpret(graph, other).y, 1e-6, "second");
  await assert.rejects(() => model.run(new Float32Array(3)), TypeError);
  await assert.rejects(() => model.run({ z: feeds.x }), /unknown input "z"/);
  model.dispose();
  await assert.rejects(() => model.run(feeds.x), /after dispose/);
  await Deno.remove(dir, { recursive: true });
});

gpuTest("embedded weights, a given device, and chaining outputs on the GPU", async () => {
  const graph = v1Graph(SIZES);
  const dir = await writeOut(await webgpuBackend.emit(graph));
  const mod: LoadedModule = await import(`file://${dir}/model.js`);
  const device = await testDevice();
  const model = await mod.load({ device });
  const feeds = randomFeeds(graph);
  const once = interpret(graph, feeds).y;
  const twice = interpret(graph, { x: Float32Array.from(once) }).y;
  const onGpu = await model.runOnGpu(feeds.x);
  assert.ok(onGpu.y.size >= once.length * 4);
  const chained = await model.run({ x: onGpu.y }) as Record<string, Float32Array>;
  assertClose(chained.y, twice, 1e-6, "chained");
  onGpu.y.destroy();
  model.dispose();
  await Deno.remove(dir, { recursive: true });
});

gpuTest("a run whose inputs are rejected leaves no staging buffer behind", async () => {
  const graph = v1Graph(SIZES);
  const compiled = planWebGpu(graph);
  const device = await testDevice();
  const model = await createModel(compiled.plan, import.meta.url, {}, {
    device,
    weights: weightFileBytes(compiled),
  });
  const staging: GPUBuffer[] = [];
  const createBuffer = device.createBuffer;
  device.createBuffer = (descriptor: GPUBufferDescriptor) => {
    const buffer = createBuffer.call(device, descriptor);
    if (descriptor.usage & GPUBufferUsage.MAP_READ) staging.push(buffer);
    return buffer;
  };
  try {
    for (
      const wrong of [new Float64Array(512), new Float32Array(3), { z: new Float32Array(512) }]
    ) {
      await assert.rejects(() => model.run(wrong as Float32Array), TypeError);
    }
    const x = randomFeeds(graph).x;
    await model.run(x);
    await model.run(x);
    assert.equal(staging.length, 1, "one staging buffer serves every run, rejected ones included");
  } finally {
    device.createBuffer = createBuffer;
    model.dispose();
  }
});

Deno.test("model.d.ts type-checks a consumer", async () => {
  const graph = v1Graph(SIZES);
  const dir = await writeOut(await webgpuBackend.emit(graph));
  await Deno.writeTextFile(
    `${dir}/use.ts`,
    [
      'import { load } from "./model.js";',
      "const model = await load();",
      "const y: Float32Array = await model.run(new Float32Array(512));",
      "const kept: Record<string, GPUBuffer> = await model.runOnGpu({ x: new Float32Array(512) });",
      "console.log(y.length, Object.keys(kept), model.inputs[0].shape);",
    ].join("\n"),
  );
  const check = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--quiet", `${dir}/use.ts`],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(check.code, 0, new TextDecoder().decode(check.stderr));
  await Deno.remove(dir, { recursive: true });
});
