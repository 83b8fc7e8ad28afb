/**
 * Where the time of a deployed conv network goes: every distinct conv layer
 * of RepVGG-A0 and MobileOne-S0 (224x224, batch 1, with the ReLU it fuses)
 * as a graph of its own, timed for refold's wasm (relaxed-simd, one thread),
 * onnxruntime-web and tfjs-wasm, interleaved, medians. A layer's time times
 * the number of its kind gives each kind's share of the network, so the
 * slowest kernels against the peers stand out.
 *
 *   deno run -A bench/conv_breakdown.ts [--quick] [--only=SUBSTRING]
 */
import { exampleFeeds } from "../examples/mod.ts";
import {
  formatAttrs,
  type Graph,
  GraphBuilder,
  type Node,
  nodeFlops,
  topoOrder,
} from "../ir/mod.ts";
import { compileModel } from "../backends/wasm/compile.ts";
import { createModel } from "../backends/wasm/runtime/model_runtime.ts";
import { convNetGraph } from "./cases.ts";
import { ortRunner } from "./peers/ort.ts";
import { tfjsRunner } from "./peers/tfjs.ts";
import { type Runner, timeInterleaved } from "./peers/timing.ts";

const QUICK = Deno.args.includes("--quick");
const ONLY = Deno.args.find((arg) => arg.startsWith("--only="))?.slice(7);

/** One kind of layer: the conv's shapes and attributes, whether a ReLU follows, and how often. */
interface Layer {
  readonly key: string;
  readonly conv: Node<"conv2d">;
  readonly relu: boolean;
  count: number;
}

/** The distinct conv layers of `graph`, in order of first appearance. */
function layersOf(graph: Graph): Layer[] {
  const layers = new Map<string, Layer>();
  const order = topoOrder(graph);
  for (const node of order) {
    if (node.op !== "conv2d") continue;
    const relu = order.some((user) => user.op === "relu" && user.inputs[0] === node);
    const [, c, h, w] = node.inputs[0].type.shape;
    const [o, , kh, kw] = node.inputs[1].type.shape;
    const key = `${kh}x${kw} ${c}->${o} ${h}x${w} ${
      formatAttrs({ g: node.attrs.groups, s: node.attrs.stride })
    }`;
    const known = layers.get(key);
    if (known) known.count++;
    else layers.set(key, { key, conv: node, relu, count: 1 });
  }
  return [...layers.values()];
}

/** The layer alone: an input of its shape, the conv with its weights, the ReLU. */
function layerGraph(layer: Layer): Graph {
  const b = new GraphBuilder("layer");
  const [x, w, bias] = layer.conv.inputs;
  const input = b.input("x", x.type.shape);
  const weight = b.weight("w", w.type.shape, w.data!);
  const biasNode = bias ? b.weight("b", bias.type.shape, bias.data!) : undefined;
  const { stride, pads, dilation, groups } = layer.conv.attrs;
  const conv = b.conv2d(input, weight, biasNode, {
    stride: [stride[0], stride[1]],
    pads: [pads[0], pads[1], pads[2], pads[3]],
    dilation: [dilation[0], dilation[1]],
    groups,
  });
  b.output("y", layer.relu ? b.relu(conv) : conv);
  return b.build();
}

async function refoldRunner(graph: Graph, feeds: Record<string, Float32Array>): Promise<Runner> {
  const compiled = compileModel(graph);
  const model = await createModel(compiled.plan, compiled.modules, null, import.meta.url, {
    weights: compiled.weights,
    engine: "relaxed-simd",
  });
  return { name: "refold", run: () => model.run(feeds), dispose: () => model.dispose() };
}

const pad = (text: string | number, width: number) => String(text).padStart(width);

async function main() {
  for (const name of ["RepVGG-A0", "MobileOne-S0"] as const) {
    if (ONLY && !name.includes(ONLY)) continue;
    const layers = layersOf(convNetGraph(name));
    console.log(`\n${name}: ${layers.length} distinct conv layers`);
    console.log(
      `${"layer".padEnd(40)}${pad("n", 4)}${pad("MFLOP", 8)}${pad("refold ms", 11)}` +
        `${pad("GFLOP/s", 9)}${pad("ORT ms", 9)}${pad("ORT/rf", 8)}${pad("tfjs ms", 9)}` +
        `${pad("tfjs/rf", 8)}${pad("share", 7)}`,
    );
    const rows = [];
    for (const layer of layers) {
      const graph = layerGraph(layer);
      const feeds = exampleFeeds(graph);
      const runners = [
        await refoldRunner(graph, feeds),
        await ortRunner(graph, feeds),
        await tfjsRunner(graph, feeds),
      ];
      const [ours, ort, tfjs] = await timeInterleaved(runners, {
        warmup: 2,
        rounds: QUICK ? 5 : 11,
      });
      for (const runner of runners) runner.dispose();
      rows.push({ layer, ours, ort, tfjs, flops: nodeFlops(layer.conv) });
    }
    const total = rows.reduce((sum, row) => sum + row.ours * row.layer.count, 0);
    const totals = { ours: 0, ort: 0, tfjs: 0 };
    for (const { layer, ours, ort, tfjs, flops } of rows) {
      totals.ours += ours * layer.count;
      totals.ort += ort * layer.count;
      totals.tfjs += tfjs * layer.count;
      console.log(
        `${layer.key.padEnd(40)}${pad(layer.count, 4)}${pad((flops / 1e6).toFixed(1), 8)}` +
          `${pad(ours.toFixed(3), 11)}${pad((flops / ours / 1e6).toFixed(1), 9)}` +
          `${pad(ort.toFixed(3), 9)}${pad((ort / ours).toFixed(2), 8)}` +
          `${pad(tfjs.toFixed(3), 9)}${pad((tfjs / ours).toFixed(2), 8)}` +
          `${pad(`${((100 * ours * layer.count) / total).toFixed(0)}%`, 7)}`,
      );
    }
    console.log(
      `${"sum of layers".padEnd(52)}${pad(totals.ours.toFixed(2), 11)}${pad("", 9)}` +
        `${pad(totals.ort.toFixed(2), 9)}${pad((totals.ort / totals.ours).toFixed(2), 8)}` +
        `${pad(totals.tfjs.toFixed(2), 9)}${pad((totals.tfjs / totals.ours).toFixed(2), 8)}`,
    );
  }
}

await main();
