/**
 * WebAssembly SIMD benchmark: refold --target wasm against onnxruntime-web
 * 1.30 (wasm, numThreads=1, fed refold's own ONNX export of the same deployed
 * graph) and @tensorflow/tfjs-backend-wasm 4.22 (single thread, grouped FCs
 * split per group with weights prepared once, convs in NHWC), all in this
 * process, timed interleaved, medians reported. Cases:
 *   (a) fc3 shapes: RepMLP-Res50-Light-224 stage 2 (4 groups of 784x784, 16
 *       rows per image) and stage 3 (4 groups of 1568x1568, 4 rows per
 *       image), RepMLPNet-T224 stage 1 (3136x3136, 64 rows); batch 1 and 8;
 *   (b) a deployed RepMLP v1 block, C=O=128, H=W=14, h=w=7, g=4, batch 1;
 *   (c) RepMLP-Res50-Light-224 and RepMLPNet-T224, whole, batch 1;
 *   (d) RepVGG-A0 and MobileOne-S0 (one conv per block once deployed), 224x224,
 *       batch 1: refold's conv kernels against ORT's and XNNPACK's (tfjs).
 * Also measured: the single-thread wasm peak (refold's 6x8 relaxed-simd
 * microkernel in L1) and streaming bandwidth; "x roof" is latency over the
 * roofline (bench/peers/roofline.ts), "plain" the plain-SIMD module.
 * "2thr" runs the relaxed-simd model with `threads: 2` (large GEMMs split
 * across a worker; cases (b) and (c)); "1/2thr" is its speedup over one thread.
 * Interleaving leaves every runner's weights cold (the others evict them
 * from the 32 MiB L3); the "warm" columns of (a) and (b) time each runner
 * back to back instead, the case of a model serving requests in a loop.
 *
 *   deno run -A bench/wasm_bench.ts [--quick] [--only=SUBSTRING]
 */
import { exampleFeeds } from "../examples/mod.ts";
import type { Graph } from "../ir/mod.ts";
import { compileModel } from "../backends/wasm/compile.ts";
import { VARIANTS } from "../backends/wasm/kernels/microkernel.ts";
import { createModel } from "../backends/wasm/runtime/model_runtime.ts";
import { compareArrays } from "../tests/_assert.ts";
import { fcGraph } from "../tests/wasm/_deployed.ts";
import { convNetGraph, exampleGraph, v1BlockGraph } from "./cases.ts";
import { ortRunner } from "./peers/ort.ts";
import { type Ceilings, measureBandwidth, measurePeak, roofline } from "./peers/roofline.ts";
import { tfjsRunner } from "./peers/tfjs.ts";
import { type Runner, timeBlocks, timeInterleaved } from "./peers/timing.ts";

// The peers' Emscripten glue replaces globalThis.Worker with Node's worker_threads one when
// they start; refold's threaded runner needs the web Worker it finds at import time.
const WEB_WORKER = globalThis.Worker;

const QUICK = Deno.args.includes("--quick");
const ONLY = Deno.args.find((arg) => arg.startsWith("--only="))?.slice(7);

interface Case {
  readonly name: string;
  readonly group: "a" | "b" | "c" | "d";
  graph(): Graph;
}

function fcCase(
  label: string,
  rows: number,
  features: number,
  groups: number,
  batch: number,
): Case {
  return {
    name: `${label} b${batch}`,
    group: "a",
    graph: () => fcGraph(rows * batch, features, groups),
  };
}

const CASES: Case[] = [
  ...[1, 8].flatMap((batch) => [
    fcCase("fc3 4x784^2 16r", 16, 3136, 4, batch),
    fcCase("fc3 4x1568^2 4r", 4, 6272, 4, batch),
    fcCase("fc3 3136^2 64r", 64, 3136, 1, batch),
  ]),
  { name: "v1 block C128 14x14", group: "b", graph: v1BlockGraph },
  { name: "Res50-Light-224", group: "c", graph: () => exampleGraph("repmlp-resnet50-light-224") },
  { name: "RepMLPNet-T224", group: "c", graph: () => exampleGraph("repmlpnet-t224") },
  { name: "RepVGG-A0", group: "d", graph: () => convNetGraph("RepVGG-A0") },
  { name: "MobileOne-S0", group: "d", graph: () => convNetGraph("MobileOne-S0") },
];

async function refoldRunner(
  graph: Graph,
  feeds: Record<string, Float32Array>,
  engine: "relaxed-simd" | "simd",
  threads = 1,
) {
  const compiled = compileModel(graph);
  const current = globalThis.Worker;
  globalThis.Worker = WEB_WORKER;
  const model = await createModel(compiled.plan, compiled.modules, null, import.meta.url, {
    weights: compiled.weights,
    engine,
    threads,
  }).finally(() => globalThis.Worker = current);
  if (model.threads !== threads) throw new Error(`bench: ${threads} threads did not start`);
  const first = graph.outputs[0].name;
  const run = async () => ((await model.run(feeds)) as Record<string, Float32Array>)[first];
  const name = `refold ${engine}${threads > 1 ? ` ${threads} threads` : ""}`;
  return { name, run, output: run, dispose: () => model.dispose() };
}

const pad = (text: string, width: number) => text.padStart(width);
const fixed = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : "-");

async function main() {
  const ceilings: Ceilings = {
    peak: await measurePeak(VARIANTS.relaxed),
    bandwidth: await measureBandwidth(),
  };
  const plainPeak = await measurePeak(VARIANTS.plain);
  console.log(
    `single-thread wasm peak ${fixed(ceilings.peak, 1)} GFLOP/s (relaxed-simd 6x8), ` +
      `${fixed(plainPeak, 1)} GFLOP/s (plain SIMD 5x8); streaming ${
        fixed(ceilings.bandwidth, 1)
      } GB/s`,
  );
  console.log(
    `${"case".padEnd(22)}${pad("refold ms", 10)}${pad("GFLOP/s", 9)}${pad("%peak", 7)}` +
      `${pad("x roof", 8)}${pad("plain ms", 10)}${pad("ORT ms", 9)}${pad("ORT/rf", 8)}` +
      `${pad("tfjs ms", 9)}${pad("tfjs/rf", 8)}${pad("warm rf", 9)}${pad("ORT/rf", 8)}` +
      `${pad("tfjs/rf", 8)}${pad("2thr ms", 9)}${pad("1/2thr", 8)}  max rel diff`,
  );
  for (const item of CASES) {
    if (ONLY && !item.name.includes(ONLY)) continue;
    if (QUICK && (item.name.includes("3136^2 64r b8"))) continue;
    const graph = item.graph();
    const feeds = exampleFeeds(graph);
    const { flops, ms: roof } = roofline(graph, ceilings);
    const runners: (Runner & { output(): Promise<Float32Array> })[] = [
      await refoldRunner(graph, feeds, "relaxed-simd"),
      await refoldRunner(graph, feeds, "simd"),
      await ortRunner(graph, feeds),
      await tfjsRunner(graph, feeds),
    ];
    if (item.group !== "a") runners.push(await refoldRunner(graph, feeds, "relaxed-simd", 2));
    const reference = await runners[0].output();
    let diff = 0;
    for (const runner of runners.slice(1)) {
      diff = Math.max(diff, compareArrays(await runner.output(), reference).relative);
    }
    const big = item.group === "c" || item.group === "d";
    const [ours, plain, ort, tfjs, two = NaN] = await timeInterleaved(runners, {
      warmup: QUICK ? 2 : 3,
      rounds: QUICK ? 5 : big ? 9 : 15,
    });
    const warm = big ? [NaN, NaN, NaN, NaN] : await timeBlocks(runners.slice(0, 4), {
      warmup: 2,
      rounds: QUICK ? 5 : 15,
    });
    for (const runner of runners) runner.dispose();
    const gflops = flops / ours / 1e6;
    console.log(
      `${item.name.padEnd(22)}${pad(fixed(ours, 3), 10)}${pad(fixed(gflops, 1), 9)}` +
        `${pad(fixed((100 * gflops) / ceilings.peak, 0), 7)}${pad(fixed(ours / roof), 8)}` +
        `${pad(fixed(plain, 3), 10)}${pad(fixed(ort, 3), 9)}${pad(fixed(ort / ours), 8)}` +
        `${pad(fixed(tfjs, 3), 9)}${pad(fixed(tfjs / ours), 8)}${pad(fixed(warm[0], 3), 9)}` +
        `${pad(fixed(warm[2] / warm[0]), 8)}${pad(fixed(warm[3] / warm[0]), 8)}` +
        `${pad(fixed(two, 3), 9)}${pad(fixed(ours / two), 8)}  ${diff.toExponential(1)}`,
    );
  }
}

await main();
