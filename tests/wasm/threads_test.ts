// Threaded runs: with every GEMM split (threadMinFlops 0), a deployed v1 block and a small
// example must give bit-identical outputs to one thread with both engines (each output
// element is computed by one thread in the same order), and match the interpreter; without
// Worker the model falls back to one thread and still runs.
import assert from "node:assert";
import { runPipeline } from "../../compiler/mod.ts";
import { EXAMPLES } from "../../examples/mod.ts";
import { type Graph, interpret } from "../../ir/mod.ts";
import { type CompiledModel, compileModel } from "../../backends/wasm/compile.ts";
import { createModel } from "../../backends/wasm/runtime/model_runtime.ts";
import { wasmBackend } from "../../backends/wasm/mod.ts";
import { assertClose } from "../_assert.ts";
import { ENGINES, feedsOf } from "./_run.ts";
import { v1BlockGraph } from "./_deployed.ts";

async function runWith(
  compiled: CompiledModel,
  feeds: Record<string, Float32Array>,
  options: { engine: (typeof ENGINES)[number]; threads: number },
): Promise<{ threads: number; outputs: Record<string, Float32Array> }> {
  const model = await createModel(compiled.plan, compiled.modules, null, import.meta.url, {
    weights: compiled.weights,
    ...options,
  });
  try {
    // Twice: the second run checks that workers go back to waiting correctly.
    await model.run(feeds);
    const outputs = await model.run(feeds) as Record<string, Float32Array>;
    return { threads: model.threads, outputs };
  } finally {
    model.dispose();
  }
}

/**
 * Runs `fn` as if the engine reported `cores` cores: load() caps threads there, and the
 * uneven 3-thread split must be tested on a 2-core machine too.
 */
async function withCores<T>(cores: number, fn: () => Promise<T>): Promise<T> {
  Object.defineProperty(navigator, "hardwareConcurrency", { value: cores, configurable: true });
  try {
    return await fn();
  } finally {
    delete (navigator as { hardwareConcurrency?: number }).hardwareConcurrency;
  }
}

async function checkThreads(graph: Graph, reference: Graph, threadCounts: readonly number[]) {
  const compiled = compileModel(graph, { threadMinFlops: 0 });
  assert.ok(compiled.modules.threaded, `${graph.name}: no threaded modules`);
  const feeds = feedsOf(graph);
  const expected = interpret(reference, feeds);
  for (const engine of ENGINES) {
    const single = await runWith(compiled, feeds, { engine, threads: 1 });
    assert.strictEqual(single.threads, 1);
    for (const threads of threadCounts) {
      const multi = await runWith(compiled, feeds, { engine, threads });
      assert.strictEqual(multi.threads, threads, "did not run threaded");
      for (const { name } of graph.outputs) {
        const what = `${graph.name}/${name} (${engine}, ${threads} threads)`;
        assert.deepStrictEqual(multi.outputs[name], single.outputs[name], `${what} differs`);
        assertClose(multi.outputs[name], expected[name], 2e-6, what);
      }
    }
  }
}

Deno.test("threads: deployed v1 block is bit-identical with 2 and 3 threads", async () => {
  const graph = v1BlockGraph({
    batch: 2,
    channels: 16,
    outChannels: 16,
    height: 14,
    width: 14,
    h: 7,
    w: 7,
    groups: 4,
    reduction: 2,
  });
  await withCores(4, () => checkThreads(graph, graph, [2, 3]));
});

Deno.test("threads: small example is bit-identical with 2 threads", async () => {
  const training = EXAMPLES["repmlp-resnet-tiny"].build({ batch: 1 });
  await checkThreads(runPipeline(training).graph, training, [2]);
});

Deno.test("threads: without Worker the model runs on one thread", async () => {
  const graph = v1BlockGraph({
    batch: 1,
    channels: 8,
    outChannels: 8,
    height: 14,
    width: 14,
    h: 7,
    w: 7,
    groups: 2,
    reduction: 2,
  });
  const compiled = compileModel(graph, { threadMinFlops: 0 });
  const feeds = feedsOf(graph);
  const single = await runWith(compiled, feeds, { engine: "simd", threads: 1 });
  const saved = Object.getOwnPropertyDescriptor(globalThis, "Worker")!;
  delete (globalThis as { Worker?: unknown }).Worker;
  try {
    const fallback = await runWith(compiled, feeds, { engine: "simd", threads: 2 });
    assert.strictEqual(fallback.threads, 1);
    assert.deepStrictEqual(fallback.outputs, single.outputs);
  } finally {
    Object.defineProperty(globalThis, "Worker", saved);
  }
});

Deno.test("threads: the bundled model.js runs on 2 threads with the default threshold", async () => {
  const graph = v1BlockGraph({
    batch: 1,
    channels: 32,
    outChannels: 32,
    height: 14,
    width: 14,
    h: 7,
    w: 7,
    groups: 1,
    reduction: 0,
  });
  const result = await wasmBackend.emit(graph);
  const dir = await Deno.makeTempDir({ prefix: "refold_threads_" });
  try {
    for (const { path, contents } of result.files) {
      const bytes = typeof contents === "string" ? new TextEncoder().encode(contents) : contents;
      await Deno.writeFile(`${dir}/${path}`, bytes);
    }
    const { load } = await import(`file://${dir}/model.js`);
    const [x] = Object.values(feedsOf(graph));
    const one = await load();
    const two: typeof one = await withCores(2, () => load({ threads: 2 }));
    try {
      assert.strictEqual(two.threads, 2);
      assert.deepStrictEqual(await two.run(x), await one.run(x));
    } finally {
      one.dispose();
      two.dispose();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("threads: load({ threads }) is capped at the cores and takes only a count", async () => {
  const graph = v1BlockGraph({
    batch: 1,
    channels: 8,
    outChannels: 8,
    height: 14,
    width: 14,
    h: 7,
    w: 7,
    groups: 2,
    reduction: 2,
  });
  const compiled = compileModel(graph, { threadMinFlops: 0 });
  const feeds = feedsOf(graph);
  const single = await runWith(compiled, feeds, { engine: "simd", threads: 1 });
  // 16 requested on a 2-core engine: 2 run (1000 used to start 999 workers, 5.8 GB).
  const capped = await withCores(
    2,
    () => runWith(compiled, feeds, { engine: "simd", threads: 16 }),
  );
  assert.strictEqual(capped.threads, 2);
  assert.deepStrictEqual(capped.outputs, single.outputs);
  for (const bad of [Infinity, NaN, 0, -2, 2.5, "2", null]) {
    await assert.rejects(
      () =>
        createModel(compiled.plan, compiled.modules, null, import.meta.url, {
          weights: compiled.weights,
          threads: bad as number,
        }),
      (error: unknown) =>
        error instanceof TypeError &&
        /^refold: load\(\{ threads \}\) takes an integer >= 1, got /.test(error.message),
      String(bad),
    );
  }
});

Deno.test("threads: small GEMMs stay whole and no threaded module is emitted", () => {
  const graph = v1BlockGraph({
    batch: 1,
    channels: 4,
    outChannels: 4,
    height: 4,
    width: 4,
    h: 2,
    w: 2,
    groups: 1,
    reduction: 0,
  });
  assert.strictEqual(compileModel(graph).modules.threaded, undefined);
});
