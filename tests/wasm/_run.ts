/** Helpers of the wasm backend tests: compile in-process, run both modules, compare. */
import { type Graph, interpret, sizeOf, uniform } from "../../ir/mod.ts";
import { type CompiledModel, compileModel } from "../../backends/wasm/compile.ts";
import { createModel } from "../../backends/wasm/runtime/model_runtime.ts";
import { assertClose } from "../_assert.ts";

/** Both modules every model carries. */
export const ENGINES = ["relaxed-simd", "simd"] as const;

/** Seeded inputs for every graph input. */
export function feedsOf(graph: Graph, seed = 7): Record<string, Float32Array> {
  const feeds: Record<string, Float32Array> = {};
  graph.inputs.forEach((input, i) => {
    feeds[input.attrs.name] = uniform(sizeOf(input.type.shape), seed + i, -1, 1);
  });
  return feeds;
}

/** Runs a compiled model with one engine on `feeds`. */
export async function runCompiled(
  compiled: CompiledModel,
  feeds: Record<string, Float32Array>,
  engine: (typeof ENGINES)[number],
): Promise<Record<string, Float32Array>> {
  const model = await createModel(compiled.plan, compiled.modules, null, import.meta.url, {
    weights: compiled.weights,
    engine,
  });
  const outputs = await model.run(feeds) as Record<string, Float32Array>;
  model.dispose();
  return outputs;
}

/**
 * Compiles `graph`, runs it with both engines and checks every output against
 * `reference` (default: the interpreter on `graph` itself).
 */
export async function checkGraph(
  graph: Graph,
  options: { tolerance?: number; reference?: Graph; seed?: number } = {},
): Promise<CompiledModel> {
  const compiled = compileModel(graph);
  const feeds = feedsOf(graph, options.seed);
  const expected = interpret(options.reference ?? graph, feeds);
  for (const engine of ENGINES) {
    const actual = await runCompiled(compiled, feeds, engine);
    for (const { name } of graph.outputs) {
      assertClose(
        actual[name],
        expected[name],
        options.tolerance ?? 1e-6,
        `${graph.name}/${name} (${engine})`,
      );
    }
  }
  return compiled;
}
