/**
 * Builds the demo site: each demo model is deployed once (with --verify) and
 * written for the js, wasm and webgpu targets as the CLI writes them, with a
 * seeded sample input and the float64 interpreter's output on it, so that the
 * page can say how far each target is from the reference.
 *
 *   SITE/models/NAME/TARGET/{model.js, weights.bin, ...}
 *   SITE/models/NAME/{x.bin (f32), expected.bin (f64)}
 */
import { BACKENDS } from "../backends/mod.ts";
import { writeOutputDir } from "../cli/output.ts";
import type { CompileReport } from "../cli/report_html.ts";
import { runPipeline } from "../compiler/mod.ts";
import { EXAMPLES } from "../examples/mod.ts";
import { loadModelFile } from "../formats/mod.ts";
import { type Graph, interpret, sizeOf, uniform, verifyGraph } from "../ir/mod.ts";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The targets the page runs. */
export const DEMO_TARGETS = ["js", "wasm", "webgpu"] as const;

/** A model of the demo and where its training-time graph comes from. */
export interface DemoModel {
  readonly name: string;
  readonly title: string;
  /** The path shown in the report. */
  readonly source: string;
  load(): Promise<Graph>;
}

const BUNDLED = fileURLToPath(
  new URL("../examples/models/repmlp_block/model.json", import.meta.url),
);

/** The bundled RepMLP block (model.json + safetensors) and a small RepMLPNet from the builders. */
export const DEMO_MODELS: readonly DemoModel[] = [
  {
    name: "repmlp_block",
    title: "RepMLP block",
    source: "examples/models/repmlp_block/model.json",
    load: () => loadModelFile(BUNDLED),
  },
  {
    name: "repmlpnet_tiny",
    title: "RepMLPNet (tiny)",
    source: 'examples/mod.ts EXAMPLES["repmlpnet-tiny"]',
    load: () => Promise.resolve(EXAMPLES["repmlpnet-tiny"].build()),
  },
];

/** What the page needs of one built model. */
export interface BuiltModel {
  readonly model: DemoModel;
  readonly report: Omit<CompileReport, "target" | "notes" | "files">;
  /** Per target: its notes and files, for the report. */
  readonly targets: Readonly<Record<string, Pick<CompileReport, "notes" | "files">>>;
  readonly input: { readonly name: string; readonly shape: readonly number[] };
}

/** Builds one model into `site`. */
async function buildModel(model: DemoModel, site: string): Promise<BuiltModel> {
  const steps: { step: string; ms: number }[] = [];
  const timed = async <T>(step: string, work: () => T | Promise<T>): Promise<T> => {
    const start = performance.now();
    const result = await work();
    steps.push({ step, ms: performance.now() - start });
    return result;
  };
  const training = await timed("read", model.load);
  verifyGraph(training, model.source);
  const { graph, reports } = await timed("passes", () => runPipeline(training, { verify: true }));
  const dir = join(site, "models", model.name);
  const targets: Record<string, Pick<CompileReport, "notes" | "files">> = {};
  for (const target of DEMO_TARGETS) {
    const emitted = await timed(`${target} codegen`, () => BACKENDS[target].emit(graph));
    await writeOutputDir(join(dir, target), emitted.files);
    targets[target] = {
      notes: emitted.notes,
      files: emitted.files.map((file) => ({
        path: `${target}/${file.path}`,
        bytes: typeof file.contents === "string"
          ? new TextEncoder().encode(file.contents).byteLength
          : file.contents.byteLength,
      })),
    };
  }
  const [input] = training.inputs;
  const x = uniform(sizeOf(input.type.shape), 2024);
  const expected = interpret(training, { [input.attrs.name]: x })[training.outputs[0].name];
  await Deno.writeFile(join(dir, "x.bin"), new Uint8Array(x.buffer));
  await Deno.writeFile(join(dir, "expected.bin"), new Uint8Array(expected.buffer));
  return {
    model,
    report: { model: model.source, training, deployed: graph, passes: reports, steps },
    targets,
    input: { name: input.attrs.name, shape: input.type.shape },
  };
}

/** Builds every demo model into `site` (created if needed). */
export async function buildDemo(
  site: string,
  onModel?: (model: DemoModel) => void,
): Promise<BuiltModel[]> {
  await Deno.mkdir(join(site, "models"), { recursive: true });
  const built: BuiltModel[] = [];
  for (const model of DEMO_MODELS) {
    onModel?.(model);
    built.push(await buildModel(model, site));
  }
  return built;
}
