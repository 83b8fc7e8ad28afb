/**
 * onnxruntime-web's wasm backend, single-threaded, as a benchmark peer. It
 * is fed refold's own ONNX export of the deployed graph (formats/onnx:
 * grouped FCs as batched MatMul, its fastest form), with every graph
 * optimization ORT has enabled.
 */
import * as ort from "onnxruntime-web";
import type { Graph } from "../../ir/mod.ts";
import { exportOnnx } from "../../formats/onnx/mod.ts";
import type { Runner } from "./timing.ts";

/** An ORT session on `graph` with `feeds` bound; run() returns the first output. */
export async function ortRunner(
  graph: Graph,
  feeds: Readonly<Record<string, Float32Array>>,
  /** The ONNX bytes to run (default: refold's f32 export of `graph`) and the runner's name. */
  model?: { readonly bytes: Uint8Array; readonly name: string },
): Promise<Runner & { output(): Promise<Float32Array> }> {
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = "error";
  const session = await ort.InferenceSession.create(model?.bytes ?? exportOnnx(graph), {
    executionProviders: ["wasm"],
    graphOptimizationLevel: "all",
  });
  const tensors: Record<string, ort.Tensor> = {};
  for (const input of graph.inputs) {
    const { name, shape } = input.attrs;
    tensors[name] = new ort.Tensor("float32", feeds[name], [...shape]);
  }
  const first = graph.outputs[0].name;
  const run = async () => {
    const results = await session.run(tensors);
    const data = results[first].data as Float32Array;
    for (const tensor of Object.values(results)) tensor.dispose();
    return data;
  };
  return {
    name: model?.name ?? "onnxruntime-web",
    run,
    output: run,
    dispose: () => void session.release(),
  };
}
