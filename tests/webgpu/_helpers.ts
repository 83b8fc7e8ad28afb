/**
 * Shared helpers of the WebGPU tests: one device per test file (Mesa
 * llvmpipe here), and running a graph's plan on it against the reference
 * interpreter.
 */
import { type Graph, interpret, sizeOf, uniform } from "../../ir/mod.ts";
import {
  createModel,
  type PlanOptions,
  planWebGpu,
  weightFileBytes,
} from "../../backends/webgpu/mod.ts";
import { compareArrays } from "../_assert.ts";
import { AssertionError } from "node:assert";

/** True when this runtime has WebGPU; tests are skipped (saying so) otherwise. */
export const HAS_GPU = typeof navigator !== "undefined" && "gpu" in navigator;
if (!HAS_GPU) console.warn("navigator.gpu is absent: WebGPU tests are skipped");

let adapterPromise: Promise<GPUAdapter> | undefined;
let devicePromise: Promise<GPUDevice> | undefined;

/** The test file's adapter, requested once. */
export function testAdapter(): Promise<GPUAdapter> {
  adapterPromise ??= navigator.gpu.requestAdapter().then((adapter) => {
    if (!adapter) throw new Error("no WebGPU adapter");
    return adapter;
  });
  return adapterPromise;
}

/** The test file's device, requested once and destroyed after the file's last test. */
export function testDevice(): Promise<GPUDevice> {
  devicePromise ??= testAdapter().then((adapter) =>
    adapter.requestDevice({ requiredLimits: { maxStorageBuffersPerShaderStage: 8 } })
  );
  return devicePromise;
}

Deno.test.afterAll(async () => {
  const device = await devicePromise?.catch(() => undefined);
  if (!device) return;
  await device.queue.onSubmittedWorkDone();
  device.destroy();
});

/** Random inputs for every graph input, seeded by position. */
export function randomFeeds(graph: Graph, seed = 1): Record<string, Float32Array> {
  return Object.fromEntries(
    graph.inputs.map((input, i) => [
      input.attrs.name,
      uniform(sizeOf(input.type.shape), seed + i, -1, 1),
    ]),
  );
}

/** Runs `graph` through the WebGPU plan and returns every output. */
export async function runOnDevice(
  graph: Graph,
  feeds: Record<string, Float32Array>,
  options: PlanOptions & { emulateF16?: boolean } = {},
): Promise<Record<string, Float32Array>> {
  const compiled = planWebGpu(graph, options);
  const model = await createModel(compiled.plan, import.meta.url, {}, {
    device: await testDevice(),
    weights: weightFileBytes(compiled),
    emulateF16: options.emulateF16,
  });
  try {
    return await model.run(feeds) as Record<string, Float32Array>;
  } finally {
    model.dispose();
  }
}

/** Runs `graph` on the device and on the interpreter; fails past `tolerance` (relative). */
export async function checkGraph(
  graph: Graph,
  options: PlanOptions & { tolerance?: number; seed?: number; emulateF16?: boolean } = {},
): Promise<number> {
  const feeds = randomFeeds(graph, options.seed ?? 1);
  const expected = interpret(graph, feeds);
  const actual = await runOnDevice(graph, feeds, options);
  let worst = 0;
  for (const { name } of graph.outputs) {
    const { relative, maxAbs } = compareArrays(actual[name], expected[name]);
    worst = Math.max(worst, relative);
    if (!(relative <= (options.tolerance ?? 1e-6))) {
      throw new AssertionError({
        message: `${graph.name}: output "${name}" relative error ${relative.toExponential(2)} ` +
          `(max abs ${maxAbs.toExponential(2)}) exceeds ${options.tolerance ?? 1e-6}`,
      });
    }
  }
  return worst;
}
