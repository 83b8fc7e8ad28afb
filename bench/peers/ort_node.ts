/**
 * onnxruntime-node 1.30 (native CPU kernels: AVX2/AVX-512/VNNI MLAS), one
 * intra-op and one inter-op thread, as a benchmark peer: the native ceiling
 * refold's wasm is compared with. Fed ONNX bytes (refold's f32 export or its
 * `--target onnx --quantize int8` model), every graph optimization enabled.
 */
import * as ort from "onnxruntime-node";
import type { Graph } from "../../ir/mod.ts";
import type { Runner } from "./timing.ts";

/** A single-threaded native ORT session on `model` with `feeds` bound; run() returns the first output. */
export async function ortNodeRunner(
  graph: Graph,
  model: Uint8Array,
  feeds: Readonly<Record<string, Float32Array>>,
  name: string,
): Promise<Runner & { output(): Promise<Float32Array> }> {
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ["cpu"],
    graphOptimizationLevel: "all",
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: "sequential",
    logSeverityLevel: 3,
  });
  const tensors: Record<string, ort.Tensor> = {};
  for (const input of graph.inputs) {
    const { name: inputName, shape } = input.attrs;
    tensors[inputName] = new ort.Tensor("float32", feeds[inputName], [...shape]);
  }
  const first = graph.outputs[0].name;
  const run = async () => {
    const results = await session.run(tensors);
    return results[first].data as Float32Array;
  };
  return { name, run, output: run, dispose: () => void session.release() };
}
