/**
 * The readers under fuzz: ONNX, safetensors and model.json, each mutated
 * from real files of the repository and fed through the library as a user's
 * file would be (from a folder of its own). A mutant passes when it is a
 * clean error (a one-line RefoldError) or a valid compile (the pipeline runs,
 * and, with `emit`, the js backend writes its module); anything else (a
 * TypeError, a RangeError, a hang) is a bug in refold.
 */
import { jsBackend } from "../../backends/js/mod.ts";
import { runPipeline } from "../../compiler/mod.ts";
import { loadModel } from "../../formats/mod.ts";
import { importOnnx } from "../../formats/onnx/mod.ts";
import { decodeModel, encodeModel } from "../../formats/onnx/proto.ts";
import { type Graph, RefoldError } from "../../ir/mod.ts";
import { dirname, fromFileUrl, join } from "../_path.ts";
import { Chooser, mutateBytes, mutateTree } from "./_mutate.ts";

const ROOT = join(dirname(fromFileUrl(import.meta.url)), "..", "..");
const ONNX_FIXTURES = ["repmlp_block.nofold_op13.onnx", "repmlp_block.default_op17.onnx"]
  .map((name) => join(ROOT, "tests", "fixtures", "onnx", name));
const EXAMPLE = join(ROOT, "examples", "models", "repmlp_block");

/** One mutant: the files to write into its folder, and what was done to them. */
export interface Mutant {
  readonly files: Readonly<Record<string, Uint8Array>>;
  /** The file to load. */
  readonly model: string;
  readonly what: string;
}

/** A reader under fuzz. */
export interface Target {
  readonly name: string;
  mutant(choose: Chooser): Mutant;
}

const text = (value: string) => new TextEncoder().encode(value);

/** 1 to 3 structural mutations of a copy of `tree`, as a description. */
function mutateTimes(tree: unknown, choose: Chooser): string {
  return Array.from({ length: 1 + choose.below(3) }, () => mutateTree(tree, choose)).join("; ");
}

/** ONNX: structural mutations of the decoded protobuf, or damaged bytes. */
function onnxTarget(): Target {
  const corpus = ONNX_FIXTURES.map((path) => Deno.readFileSync(path));
  return {
    name: "onnx",
    mutant(choose) {
      const source = choose.below(corpus.length);
      const bytes = corpus[source];
      if (choose.below(3) > 0) {
        const model = decodeModel(bytes, "seed.onnx");
        const what = mutateTimes(model, choose);
        try {
          return {
            files: { "m.onnx": encodeModel(model) },
            model: "m.onnx",
            what: `#${source} ${what}`,
          };
        } catch {
          // A mutation the schema cannot encode (a float into an int field): damage bytes instead.
        }
      }
      const damaged = mutateBytes(bytes, choose);
      return {
        files: { "m.onnx": damaged.bytes },
        model: "m.onnx",
        what: `#${source} ${damaged.what}`,
      };
    },
  };
}

/** The example's safetensors split into its header object and its data. */
function splitSafetensors(bytes: Uint8Array): { header: unknown; data: Uint8Array } {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
  return { header, data: bytes.subarray(8 + length) };
}

function joinSafetensors(header: unknown, data: Uint8Array): Uint8Array {
  const json = text(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** safetensors: the header's JSON mutated, or the file's bytes damaged; model.json intact. */
function safetensorsTarget(): Target {
  const json = Deno.readFileSync(join(EXAMPLE, "model.json"));
  const weights = Deno.readFileSync(join(EXAMPLE, "model.safetensors"));
  return {
    name: "safetensors",
    mutant(choose) {
      let mutated: Uint8Array, what: string;
      if (choose.below(3) > 0) {
        const { header, data } = splitSafetensors(weights);
        what = mutateTimes(header, choose);
        mutated = joinSafetensors(header, data);
      } else ({ bytes: mutated, what } = mutateBytes(weights, choose));
      return {
        files: { "model.json": json, "model.safetensors": mutated },
        model: "model.json",
        what,
      };
    },
  };
}

/** model.json: its JSON mutated, or its text damaged; the safetensors intact. */
function modelJsonTarget(): Target {
  const json = Deno.readTextFileSync(join(EXAMPLE, "model.json"));
  const weights = Deno.readFileSync(join(EXAMPLE, "model.safetensors"));
  return {
    name: "model.json",
    mutant(choose) {
      let mutated: Uint8Array, what: string;
      if (choose.below(4) > 0) {
        const doc = JSON.parse(json);
        what = mutateTimes(doc, choose);
        mutated = text(JSON.stringify(doc));
      } else ({ bytes: mutated, what } = mutateBytes(text(json), choose));
      return {
        files: { "model.json": mutated, "model.safetensors": weights },
        model: "model.json",
        what,
      };
    },
  };
}

/** Every target, with its corpus read once. */
export function targets(): Target[] {
  return [onnxTarget(), safetensorsTarget(), modelJsonTarget()];
}

/** How a mutant ended. */
export type Outcome = "error" | "compiled";

/**
 * Writes `mutant` into `dir` (emptied first) and compiles it; a clean error or
 * a compile is returned, anything else thrown with the mutant's description.
 */
export async function exercise(
  mutant: Mutant,
  dir: string,
  options: { emit?: boolean } = {},
): Promise<Outcome> {
  for (const entry of Deno.readDirSync(dir)) {
    Deno.removeSync(join(dir, entry.name), { recursive: true });
  }
  for (const [name, bytes] of Object.entries(mutant.files)) {
    Deno.writeFileSync(join(dir, name), bytes);
  }
  const path = join(dir, mutant.model);
  try {
    const graph: Graph = mutant.model.endsWith(".onnx")
      ? importOnnx(Deno.readFileSync(path), { file: path })
      : await loadModel(path);
    const { graph: deployed } = runPipeline(graph);
    if (options.emit) await jsBackend.emit(deployed);
    return "compiled";
  } catch (error) {
    if (error instanceof RefoldError) {
      const { message } = error;
      if (
        message.length > 0 && !/[\n\r\u2028\u2029]/.test(message) && !message.includes("[object")
      ) {
        return "error";
      }
    }
    const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new Error(`${mutant.model} mutant (${mutant.what}): not a clean error: ${detail}`, {
      cause: error,
    });
  }
}
