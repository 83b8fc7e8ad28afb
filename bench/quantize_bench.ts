/**
 * int8 benchmark (`deno task bench quantize`): refold --target wasm
 * --quantize int8 against refold's own f32 wasm, onnxruntime-web 1.30 (wasm,
 * one thread) on the f32 ONNX and on the int8 ONNX of `--target onnx
 * --quantize int8` (DynamicQuantizeLinear + MatMulInteger/ConvInteger), and
 * onnxruntime-node 1.30 (native, one thread) on both; all in this process,
 * single thread, timed interleaved, medians reported. Cases, at batch 1 and 8:
 *   (a) fc3 shapes of wasm_bench.ts;
 *   (b) the deployed RepMLP v1 block of cases.ts;
 *   (c) RepMLP-Res50-Light-224 and RepMLPNet-T224, whole (default int8 rule).
 * In (a) and (b) the layer or block stands alone, so its first GEMM reads the
 * graph's input; the first-layer rule (plan/quantize.ts) is lifted for them
 * as it would not apply inside a network.
 * GOP/s counts the graph's multiply-adds as 2 ops (int8 and f32 alike);
 * "%i8pk" is int8 GOP/s over the measured single-thread int8 peak
 * (peers/int8_peak.ts). "int8 MACs" is the share of multiply-adds the rule
 * put in int8; "rel diff" the int8 output's max difference from refold's f32
 * output, relative to the latter's largest magnitude.
 *
 *   deno run -A bench/quantize_bench.ts [--quick] [--only=SUBSTRING]
 */
import { runPipeline } from "../compiler/mod.ts";
import { buildRepmlpBlock, exampleFeeds, EXAMPLES } from "../examples/mod.ts";
import type { Graph } from "../ir/mod.ts";
import { BACKENDS } from "../backends/mod.ts";
import { exportOnnx } from "../formats/onnx/mod.ts";
import { compileModel } from "../backends/wasm/compile.ts";
import { VARIANTS } from "../backends/wasm/kernels/microkernel.ts";
import { createModel } from "../backends/wasm/runtime/model_runtime.ts";
import { compareArrays } from "../tests/_assert.ts";
import { fcGraph } from "../tests/wasm/_deployed.ts";
import { V1_BLOCK } from "./cases.ts";
import { measureInt8Peak } from "./peers/int8_peak.ts";
import { ortRunner } from "./peers/ort.ts";
import { ortNodeRunner } from "./peers/ort_node.ts";
import { measurePeak, roofline } from "./peers/roofline.ts";
import { type Runner, timeInterleaved } from "./peers/timing.ts";

const QUICK = Deno.args.includes("--quick");
const ONLY = Deno.args.find((arg) => arg.startsWith("--only="))?.slice(7);

interface Case {
  readonly name: string;
  readonly group: "a" | "b" | "c";
  readonly batch: number;
  graph(): Graph;
}

const CASES: Case[] = [1, 8].flatMap((batch): Case[] => [
  {
    name: `fc3 4x784^2 16r b${batch}`,
    group: "a",
    batch,
    graph: () => fcGraph(16 * batch, 3136, 4),
  },
  {
    name: `fc3 4x1568^2 4r b${batch}`,
    group: "a",
    batch,
    graph: () => fcGraph(4 * batch, 6272, 4),
  },
  {
    name: `fc3 3136^2 64r b${batch}`,
    group: "a",
    batch,
    graph: () => fcGraph(64 * batch, 3136, 1),
  },
  {
    name: `v1 block C128 b${batch}`,
    group: "b",
    batch,
    graph: () => runPipeline(buildRepmlpBlock(V1_BLOCK, { batch })).graph,
  },
  ...["repmlp-resnet50-light-224", "repmlpnet-t224"].map((model): Case => ({
    name: `${model === "repmlpnet-t224" ? "RepMLPNet-T224" : "Res50-Light-224"} b${batch}`,
    group: "c",
    batch,
    graph: () => runPipeline(EXAMPLES[model].build({ batch })).graph,
  })),
]);

type Timed = Runner & { output(): Promise<Float32Array> };

async function refoldRunner(
  graph: Graph,
  feeds: Record<string, Float32Array>,
  int8: boolean,
  first: boolean,
): Promise<Timed & { share: number }> {
  const compiled = compileModel(graph, {
    threadMinFlops: Infinity,
    ...(int8 ? { quantize: { first } } : {}),
  });
  const model = await createModel(compiled.plan, compiled.modules, null, import.meta.url, {
    weights: compiled.weights,
    engine: "relaxed-simd",
  });
  const decisions = compiled.int8 ?? [];
  const total = decisions.reduce((sum, d) => sum + d.macs, 0);
  const share = total > 0 ? decisions.reduce((s, d) => s + (d.int8 ? d.macs : 0), 0) / total : 0;
  const first_ = graph.outputs[0].name;
  const run = async () => ((await model.run(feeds)) as Record<string, Float32Array>)[first_];
  return {
    name: int8 ? "refold int8" : "refold f32",
    run,
    output: run,
    dispose: () => model.dispose(),
    share,
  };
}

const pad = (text: string, width: number) => text.padStart(width);
const fixed = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : "-");

async function main() {
  const peak = await measurePeak(VARIANTS.relaxed);
  const int8Peak = await measureInt8Peak(VARIANTS.relaxed);
  const int8PlainPeak = await measureInt8Peak(VARIANTS.plain);
  console.log(
    `single-thread wasm peaks: f32 ${fixed(peak, 1)} GFLOP/s (relaxed-simd FMA 6x8); int8 ` +
      `${fixed(int8Peak, 1)} GOP/s (relaxed dot 6x8), ${fixed(int8PlainPeak, 1)} GOP/s ` +
      `(plain SIMD dot_i16x8 2x8)`,
  );
  console.log(
    `${"case".padEnd(24)}${pad("int8 ms", 10)}${pad("f32 ms", 10)}${pad("f32/i8", 7)}` +
      `${pad("GOP/s", 7)}${pad("%i8pk", 6)}${pad("ORTw f32", 11)}${pad("ORTw i8", 11)}` +
      `${pad("ORTwi8/i8", 10)}${pad("ORTn f32", 10)}${pad("ORTn i8", 10)}${pad("ORTnf32/i8", 11)}` +
      `${pad("ORTni8/i8", 10)}${pad("int8 MACs", 10)}  rel diff`,
  );
  for (const item of CASES) {
    if (ONLY && !item.name.includes(ONLY)) continue;
    if (QUICK && item.group === "c" && item.batch > 1) continue;
    const graph = item.graph();
    const feeds = exampleFeeds(graph);
    const { flops } = roofline(graph, { peak, bandwidth: 1 });
    const int8Onnx = (await BACKENDS.onnx.emit(graph, { quantize: "int8" })).files[0]
      .contents as Uint8Array;
    const f32Onnx = exportOnnx(graph);
    const int8 = await refoldRunner(graph, feeds, true, item.group !== "c");
    const runners: Timed[] = [
      int8,
      await refoldRunner(graph, feeds, false, false),
      await ortRunner(graph, feeds),
      await ortRunner(graph, feeds, { bytes: int8Onnx, name: "onnxruntime-web int8" }),
      await ortNodeRunner(graph, f32Onnx, feeds, "onnxruntime-node"),
      await ortNodeRunner(graph, int8Onnx, feeds, "onnxruntime-node int8"),
    ];
    const reference = await runners[1].output();
    const diff = compareArrays(await runners[0].output(), reference).relative;
    const big = item.group === "c";
    const [ours, f32, webF32, webInt8, nodeF32, nodeInt8] = await timeInterleaved(runners, {
      warmup: big && item.batch > 1 ? 1 : 2,
      rounds: QUICK ? 3 : big ? (item.batch > 1 ? 3 : 7) : 15,
    });
    for (const runner of runners) runner.dispose();
    const gops = flops / ours / 1e6;
    console.log(
      `${item.name.padEnd(24)}${pad(fixed(ours, 3), 10)}${pad(fixed(f32, 3), 10)}` +
        `${pad(fixed(f32 / ours), 7)}${pad(fixed(gops, 1), 7)}` +
        `${pad(fixed((100 * gops) / int8Peak, 0), 6)}${pad(fixed(webF32, 3), 9)}` +
        `${pad(fixed(webInt8, 3), 9)}${pad(fixed(webInt8 / ours), 10)}${
          pad(fixed(nodeF32, 3), 9)
        }` +
        `${pad(fixed(nodeInt8, 3), 9)}${pad(fixed(nodeF32 / ours), 11)}` +
        `${pad(fixed(nodeInt8 / ours), 10)}${pad(`${fixed(100 * int8.share, 0)}%`, 10)}  ` +
        diff.toExponential(1),
    );
  }
}

await main();
