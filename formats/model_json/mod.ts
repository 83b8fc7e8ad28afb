/**
 * model.json: a refold graph as JSON (inputs, nodes in order, outputs) with
 * weights in a safetensors file next to it or inline. The format is
 * documented in docs/model-format.md and specified by formats/model.schema.json.
 *
 *   const graph = await loadModel("model.json", { batch: 4 });
 *   await writeModel(graph, "out/model.json");
 */
export { loadModel, MAX_MODEL_JSON_BYTES, parseModel } from "./load.ts";
export type { LoadOptions, ParseModelOptions } from "./load.ts";
export { writeModel } from "./write.ts";
export type { WriteModelOptions } from "./write.ts";
export type { WeightTensor } from "./build.ts";
export { MODEL_FORMAT, MODEL_VERSION } from "./document.ts";
export { ModelError } from "./problems.ts";
export { MODEL_SCHEMA } from "./schema.ts";
