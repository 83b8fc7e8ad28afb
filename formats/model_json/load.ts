/**
 * Loading model.json: from a file with its safetensors weights (loadModel),
 * or from text with weights already in memory (parseModel). Only tensors the
 * graph uses are read, each once, straight into its Float32Array.
 */
import { dirname, join } from "node:path";
import { type Graph, RefoldError } from "../../ir/mod.ts";
import { realPathInside } from "../inside.ts";
import { openSafetensors, READABLE_DTYPES, type SafetensorsReader } from "../safetensors.ts";
import { buildGraph, checkBatch, checkFinite, resolveWeights, type WeightTensor } from "./build.ts";
import { readDocument } from "./document.ts";
import { Problems } from "./problems.ts";

/** model.json holds the graph and at most tiny inline weights; bigger is not a model file. */
export const MAX_MODEL_JSON_BYTES = 64 * 2 ** 20;

/** Options of loadModel. */
export interface LoadOptions {
  /** The value of the batch dimension "N" (default 1). */
  batch?: number;
  /** Called with the real path of every file read (the model, its weights). */
  onFile?: (path: string) => void;
}

/** Options of parseModel. */
export interface ParseModelOptions extends LoadOptions {
  /** The file name used in messages. */
  file: string;
  /** Tensors by name, standing in for the weights file. */
  weights?: ReadonlyMap<string, WeightTensor>;
}

/** Reads model.json and the weights it references; throws a RefoldError naming file, path and problem. */
export async function loadModel(path: string, options: LoadOptions = {}): Promise<Graph> {
  checkBatch(options.batch ?? 1, path);
  const text = await readModelText(path);
  options.onFile?.(path);
  const doc = readDocument(text, path);
  let reader: SafetensorsReader | undefined;
  try {
    if (doc.weightsFile !== undefined) {
      reader = await openWeights(doc.weightsFile, path, options.onFile);
    }
    const external = reader && { label: reader.file, names: reader.tensors.keys() };
    const used = resolveWeights(doc, external);
    const problems = new Problems(path);
    for (const name of used) {
      const { dtype } = reader!.tensors.get(name)!;
      if (!READABLE_DTYPES.includes(dtype)) {
        problems.add(
          doc.weightRefs.get(name)!,
          `tensor "${name}" in ${reader!.file} has dtype ${dtype}; refold reads ${
            READABLE_DTYPES.join(", ")
          }`,
        );
      }
    }
    problems.throwIfAny();
    const weights = new Map<string, WeightTensor>();
    for (const name of used) {
      const tensor = { shape: reader!.tensors.get(name)!.shape, data: await reader!.read(name) };
      checkFinite(name, tensor, reader!.file);
      weights.set(name, tensor);
    }
    return buildGraph(doc, {
      batch: options.batch ?? 1,
      weights,
      weightsLabel: reader?.file ?? path,
    });
  } finally {
    reader?.close();
  }
}

/** Builds a graph from model.json text; file-backed weights come from `options.weights`. */
export function parseModel(text: string, options: ParseModelOptions): Graph {
  const doc = readDocument(text, options.file);
  const label = doc.weightsFile ?? "the given weights";
  if (doc.weightsFile !== undefined && !options.weights) {
    throw new RefoldError(
      `$.weights.file: "${doc.weightsFile}" needs options.weights (parseModel reads no files; loadModel does)`,
      { file: options.file },
    );
  }
  const given = options.weights ?? new Map<string, WeightTensor>();
  const used = resolveWeights(doc, options.weights && { label, names: given.keys() });
  const weights = new Map<string, WeightTensor>();
  for (const name of used) {
    const tensor = given.get(name)!;
    checkFinite(name, tensor, label);
    weights.set(name, tensor);
  }
  return buildGraph(doc, { batch: options.batch ?? 1, weights, weightsLabel: label });
}

async function readModelText(path: string): Promise<string> {
  try {
    const { size, isFile } = await Deno.stat(path);
    if (!isFile) throw new RefoldError("is not a file", { file: path });
    if (size > MAX_MODEL_JSON_BYTES) {
      throw new RefoldError(
        `is ${size} bytes, over the ${MAX_MODEL_JSON_BYTES} byte limit (large weights belong in safetensors)`,
        { file: path },
      );
    }
    const bytes = await Deno.readFile(path);
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    if (error instanceof RefoldError) throw error;
    if (error instanceof TypeError) throw new RefoldError("is not valid UTF-8", { file: path });
    throw new RefoldError(`cannot read: ${describeOsError(error)}`, { file: path });
  }
}

/** Opens the weights file, which must lie in the model's folder once links are resolved. */
async function openWeights(
  name: string,
  modelPath: string,
  onFile?: (path: string) => void,
): Promise<SafetensorsReader> {
  const weightsPath = join(dirname(modelPath), name);
  try {
    const real = realPathInside(dirname(modelPath), name, {
      describe: `$.weights.file: "${name}"`,
      file: modelPath,
    });
    if (real === undefined) throw new Deno.errors.NotFound();
    const { isFile } = await Deno.stat(real);
    if (!isFile) throw new Error("not a file");
    onFile?.(real);
    return await openSafetensors(real, { label: weightsPath });
  } catch (error) {
    if (error instanceof RefoldError) throw error;
    throw new RefoldError(`$.weights.file: cannot open ${weightsPath}: ${describeOsError(error)}`, {
      file: modelPath,
    });
  }
}

/** "No such file or directory", without Deno's "(os error 2): stat '/path'" tail. */
function describeOsError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file";
  return (error as Error).message.replace(/ \(os error \d+\).*$/, "");
}
