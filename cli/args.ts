/**
 * Command-line options of compile.ts, parsed with node:util's parseArgs and
 * checked into a typed record. Every bad flag is a one-line RefoldError.
 */
import { parseArgs } from "node:util";
import { RefoldError } from "../ir/mod.ts";

/** Targets the CLI can write. */
export const TARGETS = ["js", "wasm", "webgpu", "onnx"] as const;

/** A compile target. */
export type Target = typeof TARGETS[number];

/** The parsed command line. */
export interface CliOptions {
  readonly model: string;
  readonly target: Target;
  readonly out: string;
  readonly batch: number;
  readonly emitIr: boolean;
  readonly dumpAfter: readonly string[] | "all";
  readonly explain: boolean;
  readonly verify: boolean;
  readonly tolerance?: number;
  readonly passes?: readonly string[];
  readonly f16: boolean;
  readonly help: boolean;
}

/** The usage text printed by --help. */
export const USAGE = `usage: deno run -A compile.ts MODEL.json|MODEL.onnx [options]

Compiles a training-time model into its deployed graph and writes an ES module.

  --target js|wasm|webgpu|onnx  what to write (default: js)
  --out DIR                     output directory (default: out)
  --batch N                     batch size baked into the static shapes (default: 1)
  --emit-ir                     also write DIR/model.ir, the deployed graph as IR text
  --dump-after PASS|all         print the IR text after a pass (repeatable)
  --explain                     say why passes did not fire where they might have
  --verify                      check every pass numerically with the float64 interpreter
  --tolerance X                 relative error allowed by --verify (default: 1e-5)
  --passes a,b,c|none           run only these passes (default: the whole pipeline)
  --f16                         store weights and activations as f16 (webgpu)
  --help                        this text

See docs/cli.md.`;

/** Parses argv; throws RefoldError with a one-line message on bad usage. */
export function parseCliArgs(argv: readonly string[]): CliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        target: { type: "string", default: "js" },
        out: { type: "string", default: "out" },
        batch: { type: "string", default: "1" },
        "emit-ir": { type: "boolean", default: false },
        "dump-after": { type: "string", multiple: true, default: [] },
        explain: { type: "boolean", default: false },
        verify: { type: "boolean", default: false },
        tolerance: { type: "string" },
        passes: { type: "string" },
        f16: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    throw new RefoldError(`${error instanceof Error ? error.message : error} (see --help)`);
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true } as CliOptions;
  if (positionals.length !== 1) {
    throw new RefoldError("expected exactly one model file (model.json or model.onnx); see --help");
  }
  if (!(TARGETS as readonly string[]).includes(values.target)) {
    throw new RefoldError(`unknown --target "${values.target}"; use one of ${TARGETS.join(", ")}`);
  }
  const batch = Number(values.batch);
  if (!Number.isSafeInteger(batch) || batch < 1 || batch > 65536) {
    throw new RefoldError(`--batch must be an integer from 1 to 65536, got "${values.batch}"`);
  }
  const tolerance = values.tolerance === undefined ? undefined : Number(values.tolerance);
  if (tolerance !== undefined && !(tolerance > 0)) {
    throw new RefoldError(`--tolerance must be a positive number, got "${values.tolerance}"`);
  }
  const dumps = values["dump-after"];
  return {
    model: positionals[0],
    target: values.target as Target,
    out: values.out,
    batch,
    emitIr: values["emit-ir"],
    dumpAfter: dumps.includes("all") ? "all" : dumps,
    explain: values.explain,
    verify: values.verify,
    tolerance,
    passes: values.passes === undefined
      ? undefined
      : values.passes === "none"
      ? []
      : values.passes.split(",").map((name) => name.trim()).filter((name) => name),
    f16: values.f16,
    help: false,
  };
}
