/**
 * Compiled modules for the web tests: a training-time example deployed by the
 * pipeline and emitted for one target, written as the CLI writes it, with the
 * weights in weights.bin (never embedded) so that reading them is exercised.
 */
import { BACKENDS } from "../../backends/mod.ts";
import { writeOutputDir } from "../../cli/output.ts";
import { runPipeline } from "../../compiler/mod.ts";
import { buildRepmlpBlock } from "../../examples/mod.ts";
import { type Graph, interpret, sizeOf, uniform } from "../../ir/mod.ts";

/** The targets that write an ES module. */
export const MODULE_TARGETS = ["js", "wasm", "webgpu"] as const;

/**
 * A RepMLP block whose deployed fc3 holds 2.6 MB of weights, so that reading
 * weights.bin takes several chunks; odd sizes and C != O so nothing lines up by luck.
 */
export function testBlock(): Graph {
  return buildRepmlpBlock({
    C: 6,
    O: 10,
    H: 20,
    W: 15,
    h: 10,
    w: 15,
    reparamConvK: [1, 3, 5],
    fc1Fc2Reduction: 2,
    fc3Groups: 2,
  }, { seed: 11 });
}

/** Writes `graph`, deployed and emitted for `target`, into `dir` (replacing it). */
export async function writeModule(graph: Graph, target: string, dir: string): Promise<void> {
  const { graph: deployed } = runPipeline(graph);
  const emitted = await BACKENDS[target].emit(deployed, { inlineWeightLimit: 0 });
  await writeOutputDir(dir, emitted.files);
}

/** A seeded input for the graph's one input, and the float64 interpreter's outputs on it. */
export function reference(graph: Graph, seed = 5): { x: Float32Array; y: Float64Array } {
  const [input] = graph.inputs;
  const x = uniform(sizeOf(input.type.shape), seed);
  const outputs = interpret(graph, { [input.attrs.name]: x });
  return { x, y: outputs[graph.outputs[0].name] };
}

/**
 * float32 modules against the float64 interpreter on testBlock, relative to the largest
 * output: measured 5.2e-8 (js, every op rounded once), 7.3e-7 (wasm and webgpu, whose
 * merged fc3 sums 900-long dot products in float32); twice that is allowed.
 */
export const TOLERANCE: Readonly<Record<string, number>> = {
  js: 1e-7,
  wasm: 1.5e-6,
  webgpu: 1.5e-6,
};
