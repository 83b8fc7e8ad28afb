// The CLI end to end: compile an example with the js target, import the module it
// wrote, and compare with the reference interpreter on the training-time graph.
import assert from "node:assert/strict";
import { EXAMPLES } from "../../examples/mod.ts";
import { writeModel } from "../../formats/mod.ts";
import { interpret, parseGraph, sizeOf, topoOrder, uniform } from "../../ir/mod.ts";
import { assertClose } from "../_assert.ts";
import { join } from "../_path.ts";
import { exists, runCli } from "./_run.ts";

Deno.test("compile.ts --target js writes a module that matches the interpreter", async () => {
  const dir = await Deno.makeTempDir({ prefix: "refold-cli-" });
  try {
    const training = EXAMPLES["repmlp-block"].build();
    await writeModel(training, join(dir, "model.json"));
    const out = join(dir, "out");
    const result = await runCli([
      join(dir, "model.json"),
      "--target",
      "js",
      "--out",
      out,
      "--emit-ir",
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /parameters/);
    assert.match(result.stdout, /wrote /);
    for (const file of ["model.js", "model.d.ts", "model.ir"]) {
      assert.ok(exists(join(out, file)), file);
    }

    const deployed = parseGraph(await Deno.readTextFile(join(out, "model.ir")));
    assert.ok(
      !topoOrder(deployed).some((node) => node.op === "batchnorm"),
      "no batchnorm in the deployed graph",
    );

    const { load } = await import(join(out, "model.js"));
    const model = await load();
    const [input] = model.inputs;
    const x = uniform(sizeOf(input.shape), 7);
    const y = await model.run(x);
    const expected = interpret(training, { [input.name]: x });
    assertClose(y, expected[model.outputs[0].name], 3e-7, "js module vs interpreter");
    model.dispose();
    await assert.rejects(() => model.run(x), /after dispose/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--dump-after all and --verify print IR and per-pass errors", async () => {
  const dir = await Deno.makeTempDir({ prefix: "refold-cli-" });
  try {
    await writeModel(EXAMPLES["repmlp-block"].build(), join(dir, "model.json"));
    const result = await runCli([
      join(dir, "model.json"),
      "--out",
      join(dir, "out"),
      "--dump-after",
      "all",
      "--verify",
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /\/\/ after [a-z-]+\ngraph "/);
    assert.match(result.stdout, /max rel \d\.\d\de-?\d+/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
