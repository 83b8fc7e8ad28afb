/**
 * WebGPU benchmark: refold's --target webgpu against onnxruntime-web's WebGPU
 * execution provider, fed refold's own ONNX export of the same deployed
 * graph (grouped FCs as batched MatMul), in the same process on the same
 * adapter. Cases are those of the wasm benchmark:
 *   (a) the fc3 shapes of RepMLP-Res50-Light-224 (4 groups of 784x784, 16 rows
 *       per image; 4 groups of 1568x1568, 4 rows per image) and RepMLPNet-T224
 *       stage 1 (3136x3136, 64 rows), at batch 1 and 8;
 *   (b) a deployed RepMLP v1 block, C=O=128, H=W=14, h=w=7, g=4, batch 1;
 *   (c) RepMLP-Res50-Light-224 and RepMLPNet-T224, whole, batch 1.
 * Latency is one run() from CPU input to CPU output (median); "pipelined" is
 * the time per run when runs are queued back to back with outputs kept on
 * the GPU. The f16 column is refold --f16 against refold f32: its relative
 * error and latency; where the adapter lacks shader-f16 the f16 model is
 * measured with f16 rounding of every stored activation emulated.
 *
 *   deno run -A bench/webgpu_bench.ts [--quick] [--out=DIR] [--only=SUBSTRING]
 *   --quick: what a software adapter (llvmpipe) finishes in a few minutes.
 */
import * as ort from "onnxruntime-web/webgpu";
import { exampleFeeds } from "../examples/mod.ts";
import { exportOnnx } from "../formats/onnx/mod.ts";
import { type Graph, GraphBuilder, summarize, uniform } from "../ir/mod.ts";
import { planWebGpu } from "../backends/webgpu/plan.ts";
import { createModel, type WebGpuModel } from "../backends/webgpu/runtime/model.ts";
import { encodeHalves } from "../backends/webgpu/runtime/f16.ts";
import { exampleGraph, v1BlockGraph } from "./cases.ts";

const args = Deno.args;
const QUICK = args.includes("--quick");
const OUT = args.find((arg) => arg.startsWith("--out="))?.slice(6);
const ONLY = args.find((arg) => arg.startsWith("--only="))?.slice(7);

/** One benchmark case: a deployed graph and how it was made. */
interface Case {
  readonly name: string;
  readonly graph: () => Graph;
}

function fcCase(label: string, groups: number, size: number, rows: number, batch: number): Case {
  return {
    name: `${label} b${batch}`,
    graph: () => {
      const b = new GraphBuilder(`fc_${groups}x${size}_${rows * batch}`);
      const x = b.input("x", [rows * batch, groups * size]);
      const w = b.weight("w", [groups * size, size], uniform(groups * size * size, 1, -0.03, 0.03));
      b.output(
        "y",
        b.linear(x, w, b.weight("b", [groups * size], uniform(groups * size, 2)), { groups }),
      );
      return b.build();
    },
  };
}

function exampleCase(name: string, example: string): Case {
  return { name, graph: () => exampleGraph(example) };
}

const CASES: Case[] = [];
for (const batch of QUICK ? [1] : [1, 8]) {
  CASES.push(fcCase("fc3 Res50-Light s2 4x784^2 16 rows", 4, 784, 16, batch));
  CASES.push(fcCase("fc3 Res50-Light s3 4x1568^2 4 rows", 4, 1568, 4, batch));
  CASES.push(fcCase("fc3 T224 s1 3136^2 64 rows", 1, 3136, 64, batch));
}
CASES.push({ name: "v1 block C=O=128 14x14 h=w=7 g=4 b1", graph: v1BlockGraph });
if (!QUICK) {
  CASES.push(exampleCase("RepMLP-Res50-Light-224 b1", "repmlp-resnet50-light-224"));
  CASES.push(exampleCase("RepMLPNet-T224 b1", "repmlpnet-t224"));
}

const WARMUP = QUICK ? 2 : 3;
const RUNS = QUICK ? 5 : 20;
const BUDGET_MS = QUICK ? 1500 : 4000;

/**
 * Times several runners in interleaved rounds, so that a noisy shared machine
 * slows each of them alike; returns each one's first-run and median times.
 */
async function timeInterleaved(
  runners: readonly (() => Promise<unknown>)[],
): Promise<{ first: number; median: number }[]> {
  const firsts: number[] = [];
  for (const run of runners) {
    const start = performance.now();
    await run();
    firsts.push(performance.now() - start);
    for (let i = 1; i < WARMUP; i++) await run();
  }
  const times: number[][] = runners.map(() => []);
  const begin = performance.now();
  for (let round = 0; round < RUNS; round++) {
    if (round >= 3 && performance.now() - begin > BUDGET_MS * runners.length) break;
    for (let i = 0; i < runners.length; i++) {
      const start = performance.now();
      await runners[i]();
      times[i].push(performance.now() - start);
    }
  }
  return times.map((list, i) => {
    list.sort((x, y) => x - y);
    return { first: firsts[i], median: list[Math.floor(list.length / 2)] };
  });
}

async function pipelined(model: WebGpuModel, x: Record<string, Float32Array>): Promise<number> {
  const count = QUICK ? 4 : 16;
  const start = performance.now();
  const kept: GPUBuffer[] = [];
  for (let i = 0; i < count; i++) kept.push(...Object.values(await model.runOnGpu(x)));
  await model.device.queue.onSubmittedWorkDone();
  const ms = (performance.now() - start) / count;
  for (const buffer of kept) buffer.destroy();
  return ms;
}

function relativeError(actual: Float32Array, expected: Float32Array): number {
  let diff = 0, scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

async function loadRefold(graph: Graph, device: GPUDevice, f16: boolean, hasF16: boolean) {
  const compiled = planWebGpu(graph, { f16 });
  const values = f16 ? encodeHalves(compiled.weights) : compiled.weights;
  const start = performance.now();
  const model = await createModel(compiled.plan, import.meta.url, {}, {
    device,
    weights: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
    emulateF16: f16 && !hasF16,
  });
  return { model, loadMs: performance.now() - start, stats: compiled.stats };
}

const adapter = await navigator.gpu?.requestAdapter();
if (!adapter) {
  console.error("webgpu bench: no WebGPU adapter (navigator.gpu)");
  Deno.exit(1);
}
const hasF16 = adapter.features.has("shader-f16");
const wanted: Record<string, number> = {};
for (
  const name of ["maxStorageBufferBindingSize", "maxBufferSize", "maxStorageBuffersPerShaderStage"]
) {
  wanted[name] = (adapter.limits as unknown as Record<string, number>)[name];
}
const device = await adapter.requestDevice({
  requiredFeatures: hasF16 ? ["shader-f16"] : [],
  requiredLimits: wanted,
});
const info = adapter.info;
const adapterInfo = {
  description: info.description,
  vendor: info.vendor,
  architecture: info.architecture,
  device: info.device,
  shaderF16: hasF16,
};
console.log(
  `adapter: ${info.description || info.device || "?"} (${info.vendor}, ${
    info.architecture || "?"
  })` +
    `; shader-f16: ${hasF16}; deno ${Deno.version.deno}; onnxruntime-web ${ort.env.versions.web}`,
);
ort.env.wasm.numThreads = 1;
ort.env.logLevel = "error";

const rows: Record<string, string | number>[] = [];
const header =
  "| case | GFLOP | refold ms | pipelined ms | ORT webgpu ms | ORT/refold | refold GFLOP/s | " +
  "agree | f16 err | f16 ms |";
console.log(`\n${header}\n|${" --- |".repeat(10)}`);
for (const testCase of CASES) {
  if (ONLY && !testCase.name.includes(ONLY)) continue;
  try {
    await measure(testCase);
  } catch (error) {
    console.log(`| ${testCase.name} | failed: ${(error as Error).message.split("\n")[0]} |`);
  }
}

async function measure(testCase: Case): Promise<void> {
  const graph = testCase.graph();
  const { flops, weightBytes } = summarize(graph);
  const feeds = exampleFeeds(graph);
  const refold = await loadRefold(graph, device, false, hasF16);
  const half = await loadRefold(graph, device, true, hasF16);
  let session: ort.InferenceSession | undefined, ortCreate = NaN;
  try {
    const start = performance.now();
    session = await ort.InferenceSession.create(exportOnnx(graph), {
      executionProviders: ["webgpu"],
      graphOptimizationLevel: "all",
    });
    ortCreate = performance.now() - start;
  } catch (error) {
    console.error(`  ORT cannot load ${testCase.name}: ${(error as Error).message.split("\n")[0]}`);
  }
  const tensors = Object.fromEntries(
    graph.inputs.map((input) => [
      input.attrs.name,
      new ort.Tensor("float32", feeds[input.attrs.name], [...input.type.shape]),
    ]),
  );
  const runners: (() => Promise<unknown>)[] = [
    () => refold.model.run(feeds),
    () => half.model.run(feeds),
  ];
  if (session) runners.push(() => session.run(tensors));
  const [refoldTime, halfTime, ortTime] = await timeInterleaved(runners);
  const ortMs = ortTime?.median ?? NaN;
  const ours = await refold.model.run(feeds) as Record<string, Float32Array>;
  const pipe = await pipelined(refold.model, feeds);
  let agree = NaN;
  if (session) {
    const theirs = await session.run(tensors);
    agree = Math.max(
      ...graph.outputs.map(({ name }) =>
        relativeError(ours[name], theirs[name].data as Float32Array)
      ),
    );
    await session.release();
  }
  const halfOut = await half.model.run(feeds) as Record<string, Float32Array>;
  const halfError = Math.max(
    ...graph.outputs.map(({ name }) => relativeError(halfOut[name], ours[name])),
  );
  const precision = half.model.precision;
  refold.model.dispose();
  half.model.dispose();

  const row = {
    case: testCase.name,
    gflop: flops / 1e9,
    weightMB: weightBytes / 1e6,
    kernels: refold.stats.kernels,
    loadMs: refold.loadMs,
    firstRunMs: refoldTime.first,
    refoldMs: refoldTime.median,
    pipelinedMs: pipe,
    ortCreateMs: ortCreate,
    ortMs,
    ratio: ortMs / refoldTime.median,
    gflops: flops / 1e6 / refoldTime.median,
    agree,
    f16Precision: precision,
    f16Error: halfError,
    f16Ms: halfTime.median,
  };
  rows.push(row);
  if (OUT) {
    // Written after every case, so that a run stopped by a time limit keeps what it measured.
    await Deno.mkdir(OUT, { recursive: true });
    await Deno.writeTextFile(
      `${OUT}/webgpu_bench.json`,
      JSON.stringify({ adapter: adapterInfo, quick: QUICK, rows }, null, 2),
    );
  }
  const f = (value: number, digits = 2) => Number.isFinite(value) ? value.toFixed(digits) : "n/a";
  console.log(
    `| ${row.case} | ${f(row.gflop, 3)} | ${f(row.refoldMs)} | ${f(row.pipelinedMs)} | ${
      f(ortMs)
    } | ` +
      `${f(row.ratio)}x | ${f(row.gflops, 1)} | ${agree.toExponential(1)} | ` +
      `${halfError.toExponential(1)} (${precision}) | ${f(row.f16Ms)} |`,
  );
}
console.log(
  "\nrefold ms / ORT ms: median run() latency, CPU input to CPU output; pipelined: per run, " +
    "queued back to back, outputs kept on the GPU; agree: max relative difference refold vs ORT; " +
    "f16 err: refold --f16 vs refold f32, relative to the largest output.",
);
device.destroy();
