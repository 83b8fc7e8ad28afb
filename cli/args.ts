/**
 * Command-line options of compile.ts, parsed with node:util's parseArgs and
 * checked into a typed record. Every bad flag is a one-line RefoldError.
 */
import { parseArgs } from "node:util";
import { findArch } from "../arch/mod.ts";
import { PIPELINE } from "../compiler/mod.ts";
import { RefoldError } from "../ir/mod.ts";
import { parseStorageFlags, type StorageFlags } from "./args_storage.ts";

/** Targets the CLI can write. */
export const TARGETS = ["js", "wasm", "webgpu", "onnx"] as const;

/** A compile target. */
export type Target = typeof TARGETS[number];

/** The parsed command line (the storage flags: see args_storage.ts). */
export interface CliOptions extends StorageFlags {
  readonly model: string;
  /** --arch NAME: the model is a checkpoint of this architecture ("list": print them). */
  readonly arch?: string;
  readonly target: Target;
  readonly out: string;
  /** Absent: the model's own batch (model.json's "N" and a symbolic ONNX batch are 1). */
  readonly batch?: number;
  readonly emitIr: boolean;
  readonly dumpAfter: readonly string[] | "all";
  readonly explain: boolean;
  readonly verify: boolean;
  readonly tolerance?: number;
  readonly passes?: readonly string[];
  readonly f16: boolean;
  /** --report FILE: the compile report as HTML. */
  readonly report?: string;
  /** --input-shape NAME=D,D,...: static shapes for ONNX inputs with symbolic dimensions. */
  readonly inputShapes: Readonly<Record<string, readonly number[]>>;
  readonly help: boolean;
}

/** The usage text printed by --help. */
export const USAGE = `usage: deno run -A compile.ts MODEL.json|MODEL.onnx [options]
       deno run -A compile.ts CHECKPOINT --arch NAME [options]
       deno run -A compile.ts --arch list

Compiles a training-time model into its deployed graph and writes an ES module.

  --arch NAME|list              CHECKPOINT (.pth, .pt, .safetensors, a folder of shards)
                                holds the weights of architecture NAME; list prints them
  --target js|wasm|webgpu|onnx  what to write (default: js)
  --out DIR                     output directory (default: out)
  --batch N                     batch size baked into the static shapes (default: the
                                model's own; 1 where it is symbolic)
  --emit-ir                     also write DIR/model.ir, the deployed graph as IR text
  --dump-after PASS|all         print the IR text after a pass (repeatable)
  --explain                     say why passes did not fire where they might have
  --verify                      check every pass numerically with the float64 interpreter
  --tolerance X                 relative error allowed by --verify (default: 1e-6)
  --passes a,b,c|none           run only these passes (default: the whole pipeline)
  --f16                         store weights and activations as f16 (webgpu)
  --weight-dtype f32|f16|int8   how weights are stored (default: f32); widened at load
  --quantize int8               compute large linear/conv layers in int8 (onnx, wasm;
                                webgpu: int8 storage, f32 compute)
  --quantize-skip a,b           wasm: these weights' layers stay f32
  --quantize-min-macs N         wasm: layers under N multiply-adds stay f32 (default 65536)
  --quantize-first              wasm: quantize layers reading a graph input too
  --input-shape NAME=1,3,256,256  static shape of an ONNX input (repeatable)
  --report FILE                 also write the compile report as HTML (graphs, passes, sizes)
  --help                        this text

See docs/cli.md and docs/checkpoints.md.`;

/** Parses argv; throws RefoldError with a one-line message on bad usage. */
export function parseCliArgs(argv: readonly string[]): CliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        arch: { type: "string" },
        target: { type: "string", default: "js" },
        out: { type: "string", default: "out" },
        batch: { type: "string" },
        "emit-ir": { type: "boolean", default: false },
        "dump-after": { type: "string", multiple: true, default: [] },
        explain: { type: "boolean", default: false },
        verify: { type: "boolean", default: false },
        tolerance: { type: "string" },
        passes: { type: "string" },
        f16: { type: "boolean", default: false },
        "weight-dtype": { type: "string" },
        quantize: { type: "string" },
        "quantize-skip": { type: "string" },
        "quantize-min-macs": { type: "string" },
        "quantize-first": { type: "boolean", default: false },
        report: { type: "string" },
        "input-shape": { type: "string", multiple: true, default: [] },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // node:util's message goes on to explain `--`; the option is what matters.
    const unknown = /^Unknown option '([^']*)'/.exec(message);
    throw new RefoldError(`${unknown ? `unknown option ${unknown[1]}` : message} (see --help)`);
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true } as CliOptions;
  if (values.arch === "list") return { arch: "list", help: false } as CliOptions;
  if (values.arch !== undefined) {
    findArch(values.arch);
    if (positionals.length !== 1) {
      throw new RefoldError(`--arch ${values.arch} needs exactly one checkpoint file or folder`);
    }
  }
  if (positionals.length !== 1) {
    throw new RefoldError("expected exactly one model file (model.json or model.onnx); see --help");
  }
  if (!(TARGETS as readonly string[]).includes(values.target)) {
    throw new RefoldError(`unknown --target "${values.target}"; use one of ${TARGETS.join(", ")}`);
  }
  const batch = values.batch === undefined ? undefined : parseBatch(values.batch);
  const tolerance = values.tolerance === undefined ? undefined : Number(values.tolerance);
  if (tolerance !== undefined) {
    if (!(tolerance > 0 && Number.isFinite(tolerance))) {
      throw new RefoldError(`--tolerance must be a positive number, got "${values.tolerance}"`);
    }
    if (!values.verify) throw new RefoldError("--tolerance only applies with --verify");
  }
  if (values.out === "") throw new RefoldError("--out must name a directory, got an empty string");
  if (values.f16 && values.target !== "webgpu") {
    throw new RefoldError(`--f16 applies to --target webgpu only, not ${values.target}`);
  }
  const target = values.target as Target;
  const storage = parseStorageFlags(values, target);
  const passes = parsePasses(values.passes);
  const dumps = values["dump-after"];
  checkPassNames("--dump-after", dumps.filter((name) => name !== "all"), ", or all");
  for (const name of dumps) {
    if (passes && name !== "all" && !passes.includes(name)) {
      throw new RefoldError(`--dump-after ${name}: --passes ${values.passes} does not run it`);
    }
  }
  return {
    model: positionals[0],
    arch: values.arch,
    target,
    out: values.out,
    batch,
    emitIr: values["emit-ir"],
    dumpAfter: dumps.includes("all") ? "all" : dumps,
    explain: values.explain,
    verify: values.verify,
    tolerance,
    passes,
    f16: values.f16,
    ...storage,
    report: checkReportPath(values.report),
    inputShapes: parseInputShapes(values["input-shape"]),
    help: false,
  };
}

/** --batch N: Number() would take "0x10", " 2 " and "1e3"; a batch size is written in decimal. */
function parseBatch(text: string): number {
  const batch = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(batch) || batch < 1 || batch > 65536) {
    throw new RefoldError(`--batch must be an integer from 1 to 65536, got "${text}"`);
  }
  return batch;
}

function checkReportPath(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  if (path === "" || path.endsWith("/")) {
    throw new RefoldError(`--report must name a file, got "${path}"`);
  }
  return path;
}

/** `--input-shape x=1,3,256,256` (repeatable), each input once, every dimension >= 1. */
function parseInputShapes(values: readonly string[]): Record<string, number[]> {
  const shapes: Record<string, number[]> = {};
  for (const value of values) {
    const at = value.lastIndexOf("=");
    const name = value.slice(0, at), dims = value.slice(at + 1).split(",");
    if (at <= 0 || dims.some((dim) => !/^[0-9]+$/.test(dim.trim()))) {
      throw new RefoldError(
        `--input-shape takes NAME=D,D,... with decimal dimensions, e.g. x=1,3,256,256; got "${value}"`,
      );
    }
    const shape = dims.map((dim) => Number(dim.trim()));
    if (shape.some((dim) => dim < 1 || dim > 2 ** 30)) {
      throw new RefoldError(`--input-shape ${name}: every dimension must be from 1 to 2^30`);
    }
    if (Object.hasOwn(shapes, name)) throw new RefoldError(`--input-shape ${name} given twice`);
    shapes[name] = shape;
  }
  return shapes;
}

/** The names a pipeline pass answers to, in pipeline order, each once. */
const PASS_NAMES: readonly string[] = [...new Set(PIPELINE.map((pass) => pass.name))];

/** Refuses a name that is no pass of the pipeline, listing the ones there are. */
function checkPassNames(flag: string, names: readonly string[], extra = ""): void {
  for (const name of names) {
    if (!PASS_NAMES.includes(name)) {
      throw new RefoldError(
        `${flag}: unknown pass "${name}"; the passes are ${PASS_NAMES.join(", ")}${extra}`,
      );
    }
  }
}

/** --passes a,b or none; an empty list is a mistake, not a way to say none. */
function parsePasses(value: string | undefined): readonly string[] | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === "none") return [];
  const names = value.split(",").map((name) => name.trim());
  if (names.some((name) => name === "")) {
    throw new RefoldError(
      `--passes takes pass names separated by commas, or none; got "${value}"`,
    );
  }
  checkPassNames("--passes", names, ", or none alone");
  return names;
}
