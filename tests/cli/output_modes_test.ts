// The CLI's output directory as a web server sees it (modes from the umask, not a temporary
// directory's 700), and an --out the OS refuses: a user error (exit 1), not an internal one.
import assert from "node:assert/strict";
import { EXAMPLES } from "../../examples/mod.ts";
import { writeModel } from "../../formats/mod.ts";
import { join } from "../_path.ts";
import { ROOT, runCli } from "./_run.ts";

/** compile.ts under `umask`, through sh. */
async function compileUnder(umask: string, args: string[]) {
  const script = `umask ${umask} && exec "$0" run -A "$@"`;
  const { code, stderr } = await new Deno.Command("sh", {
    args: ["-c", script, Deno.execPath(), join(ROOT, "compile.ts"), ...args],
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return { code, stderr: new TextDecoder().decode(stderr) };
}

const mode = (path: string) => Deno.statSync(path).mode! & 0o777;

Deno.test({
  name: "CLI output: directory and files get the modes the umask gives",
  ignore: Deno.build.os === "windows",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "refold-modes-" });
    try {
      await writeModel(EXAMPLES["repmlp-block"].build(), join(dir, "model.json"));
      for (const [umask, dirMode, fileMode] of [["022", 0o755, 0o644], ["027", 0o750, 0o640]]) {
        const out = join(dir, `out${umask}`);
        const { code, stderr } = await compileUnder(String(umask), [
          join(dir, "model.json"),
          "--out",
          out,
          "--target",
          "wasm",
        ]);
        assert.equal(code, 0, stderr);
        assert.equal(mode(out).toString(8), dirMode.toString(8), `umask ${umask}: ${out}`);
        for (const entry of Deno.readDirSync(out)) {
          assert.equal(mode(join(out, entry.name)).toString(8), fileMode.toString(8), entry.name);
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "CLI output: an --out the OS will not create is a one-line user error, exit 1",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "refold-modes-" });
    try {
      await writeModel(EXAMPLES["repmlp-block"].build(), join(dir, "model.json"));
      const result = await runCli([join(dir, "model.json"), "--out", "/proc/refold-test/out"]);
      assert.equal(result.code, 1, result.stderr);
      assert.equal(result.stderr.split("\n").length, 2, result.stderr);
      assert.match(
        result.stderr,
        /^refold: error: --out \/proc\/refold-test\/out: cannot create \/proc\/refold-test: /,
      );
      assert.doesNotMatch(result.stderr, /internal error|os error/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
