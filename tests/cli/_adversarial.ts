/**
 * Shared by the adversarial CLI tests: compile.ts in a subprocess, small model
 * files, and the table runner that checks the one-line error rule for each row.
 */
import assert from "node:assert/strict";
import { join } from "../_path.ts";
import { exists, ROOT } from "./_run.ts";

/** The committed example model (model.json + model.safetensors). */
export const EXAMPLE = join(ROOT, "examples", "models", "repmlp_block");

/** compile.ts in a subprocess that cannot hang the suite (a FIFO would block a reader). */
export async function compile(args: string[], cwd: string) {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "compile.ts"), ...args],
    cwd,
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
    signal: AbortSignal.timeout(60_000),
  }).output();
  return { code, stderr: new TextDecoder().decode(stderr) };
}

/** The example model.json with `edit` applied, and its weights file (optionally edited). */
export function example(
  edit: (json: { nodes: { attrs: Record<string, unknown> }[] }) => void = () => {},
  editWeights?: (header: Record<string, { data_offsets: number[] }>, data: DataView) => void,
): Record<string, string | Uint8Array> {
  const json = JSON.parse(Deno.readTextFileSync(join(EXAMPLE, "model.json")));
  edit(json);
  const weights = Deno.readFileSync(join(EXAMPLE, "model.safetensors"));
  if (editWeights) {
    const length = Number(new DataView(weights.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(weights.subarray(8, 8 + length)));
    editWeights(header, new DataView(weights.buffer, 8 + length));
  }
  return { "model.json": JSON.stringify(json), "model.safetensors": weights };
}

/** A one-node model.json with inline weights. */
export function tinyJson(inputs: Record<string, (number | string)[]>, node: object): string {
  return JSON.stringify({
    format: "refold-model",
    version: 1,
    inputs: Object.entries(inputs).map(([name, shape]) => ({ name, shape })),
    nodes: [{ name: "n", ...node }],
    outputs: ["n"],
  });
}

/** One row: files written to a directory D, the arguments, the expected message. */
export interface Case {
  what: string;
  files?: Record<string, string | Uint8Array>;
  /** Run in a directory D; the message is compared with D replaced by "D". */
  args: string[];
  message: string;
  /** A file that must still exist afterwards. */
  keeps?: string;
}

/** Registers one Deno.test per row: exit status 1, exactly `message`, no output left. */
export function runCases(cases: readonly Case[]): void {
  for (const { what, files, args, message, keeps } of cases) {
    Deno.test(`CLI adversarial: ${what}`, async () => {
      const dir = await Deno.makeTempDir({ prefix: "refold-adv-" });
      try {
        for (const [name, contents] of Object.entries(files ?? {})) {
          await Deno.mkdir(join(dir, name, ".."), { recursive: true });
          if (typeof contents === "string") await Deno.writeTextFile(join(dir, name), contents);
          else await Deno.writeFile(join(dir, name), contents);
        }
        const out = args.includes("--out") ? [] : ["--out", join(dir, "out")];
        const expand = (arg: string) => arg === "D" ? dir : arg.replace(/^D\//, `${dir}/`);
        const result = await compile([...args.map(expand), ...out], dir);
        assert.equal(result.code, 1, `exit status; stderr: ${result.stderr}`);
        assert.equal(result.stderr.split("\n").length, 2, `one line on stderr: ${result.stderr}`);
        assert.equal(result.stderr.trim().replaceAll(dir, "D"), `refold: error: ${message}`);
        assert.ok(!exists(join(dir, "out")), "no output directory");
        const left = [...Deno.readDirSync(dir)].filter((entry) => entry.name.includes(".tmp-"));
        assert.deepEqual(left, [], "no staging directory");
        if (keeps) assert.ok(exists(join(dir, keeps)), `${keeps} survives`);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
}
