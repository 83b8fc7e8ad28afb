// CLI progress: the status lines a terminal sees for each long step, in order, ending with a
// cleared line; and none at all when the caller gives no status writer (stdout not a terminal).
import assert from "node:assert/strict";
import { parseCliArgs } from "../../cli/args.ts";
import { runCompile } from "../../cli/main.ts";
import { PIPELINE } from "../../compiler/mod.ts";
import { CompileProgress, terminalStatus } from "../../cli/progress.ts";
import { join } from "../_path.ts";
import { ROOT } from "./_run.ts";

const MODEL = join(ROOT, "examples", "models", "repmlp_block", "model.json");

Deno.test("a terminal sees every step, each pass and its verification, then a cleared line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "refold-progress-" });
  try {
    const status: string[] = [], out: string[] = [];
    const options = parseCliArgs([MODEL, "--target", "wasm", "--out", dir + "/out", "--verify"]);
    await runCompile(options, {
      out: (t) => out.push(t),
      err: () => {},
      status: (l) => status.push(l),
    });
    const passes = PIPELINE.map((pass) => pass.name), n = passes.length;
    assert.ok(n >= 8 && passes.includes("merge-parallel-convs"));
    assert.deepEqual(status, [
      `refold: reading ${MODEL}…`,
      "refold: passes…",
      `refold: [1/${n}] computing reference outputs (--verify)…`,
      ...passes.flatMap((pass, i) => [
        `refold: [${i + 1}/${n}] pass ${pass}…`,
        `refold: [${i + 1}/${n}] verifying ${pass}…`,
      ]),
      "refold: generating wasm code…",
      `refold: writing ${dir}/out/…`,
      "",
    ]);
    assert.match(
      out.at(-1)!,
      /^time: read [\d.]+ s, passes [\d.]+ s, codegen [\d.]+ s, write [\d.]+ s$/,
    );

    const quiet: string[] = [];
    await runCompile(parseCliArgs([MODEL, "--out", dir + "/out2"]), {
      out: (t) => quiet.push(t),
      err: () => {},
    });
    assert.ok(quiet.every((line) => !line.includes("…")), "no status lines without a terminal");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a failing compile clears the status line before the error is printed", async () => {
  const status: string[] = [];
  await assert.rejects(() =>
    runCompile(parseCliArgs(["/nonexistent/model.json", "--out", "/nonexistent/out"]), {
      out: () => {},
      err: () => {},
      status: (line) => status.push(line),
    })
  );
  assert.deepEqual(status, ["refold: reading /nonexistent/model.json…", ""]);
});

Deno.test("terminal status lines return to the line start and clear it", () => {
  const written: string[] = [];
  const show = terminalStatus((bytes) => written.push(new TextDecoder().decode(bytes)));
  const progress = new CompileProgress(show);
  progress.start("read", "reading m.onnx");
  const times = progress.done();
  assert.deepEqual(written, ["\r\u001b[2Krefold: reading m.onnx…", "\r\u001b[2K"]);
  assert.equal(times.length, 1);
  assert.equal(times[0].step, "read");
});
