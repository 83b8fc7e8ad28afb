// Bad input to the CLI: one line on stderr, a non-zero exit, and no output directory.
import assert from "node:assert/strict";
import { EXAMPLES } from "../../examples/mod.ts";
import { writeModel } from "../../formats/mod.ts";
import { join } from "../_path.ts";
import { exists, runCli } from "./_run.ts";

const cases: {
  what: string;
  files?: Record<string, string>;
  args: (dir: string) => string[];
  message: RegExp;
}[] = [
  {
    what: "missing model file",
    args: (d) => [join(d, "nope.json")],
    message: /nope\.json: .*(no such file|not found)/i,
  },
  { what: "no model argument", args: () => [], message: /expected exactly one model file/ },
  {
    what: "unknown flag",
    args: (d) => [join(d, "m.json"), "--frobnicate"],
    message: /frobnicate.*see --help/,
  },
  {
    what: "unknown target",
    args: (d) => [join(d, "m.json"), "--target", "cuda"],
    message: /unknown --target "cuda"/,
  },
  {
    what: "bad batch",
    args: (d) => [join(d, "m.json"), "--batch", "0"],
    message: /--batch must be an integer/,
  },
  {
    what: "malformed JSON",
    files: { "m.json": '{"format": ' },
    args: (d) => [join(d, "m.json")],
    message: /m\.json: .*JSON/,
  },
  {
    what: "garbage ONNX",
    files: { "m.onnx": "\u0001\u00ff\u00ffnot a protobuf" },
    args: (d) => [join(d, "m.onnx")],
    message: /m\.onnx: /,
  },
];

for (const { what, files, args, message } of cases) {
  Deno.test(`CLI error: ${what}`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "refold-cli-err-" });
    try {
      for (const [name, text] of Object.entries(files ?? {})) {
        await Deno.writeTextFile(join(dir, name), text);
      }
      const out = join(dir, "out");
      const result = await runCli([...args(dir), "--out", out]);
      assert.equal(result.code, 1, `exit code; stderr: ${result.stderr}`);
      const lines = result.stderr.trim().split("\n");
      assert.equal(lines.length, 1, `one line on stderr, got:\n${result.stderr}`);
      assert.match(lines[0], /^refold: error: /);
      assert.match(lines[0], message);
      assert.ok(!exists(out), "no output directory is left behind");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("CLI refuses to overwrite a directory that is not an earlier output", async () => {
  const dir = await Deno.makeTempDir({ prefix: "refold-cli-err-" });
  try {
    await Deno.mkdir(join(dir, "out"));
    await Deno.writeTextFile(join(dir, "out", "precious.txt"), "keep me");
    await writeModel(EXAMPLES["repmlp-block"].build(), join(dir, "m.json"));
    const result = await runCli([join(dir, "m.json"), "--out", join(dir, "out")]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /"precious.txt", which refold did not write/);
    assert.equal(await Deno.readTextFile(join(dir, "out", "precious.txt")), "keep me");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
