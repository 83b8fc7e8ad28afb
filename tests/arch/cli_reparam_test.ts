/**
 * `compile.ts CHECKPOINT --arch RepVGG-A0 --target wasm`, as a user runs it,
 * on full-size official-layout checkpoints written here as torch.save would
 * (seeded values, every key and shape of the official module): RepVGG-A0 in
 * training form and MobileOne-S0 in deploy form. The module the CLI writes
 * must give exactly the output of the same seeded graph compiled in-process,
 * so every value reached its place (numbers against PyTorch itself: the
 * reduced fixtures in reparam_families_test.ts, and `deno task torch-check`
 * at full size). A reduced checkpoint under a full-size name is one line,
 * exit 1, no output.
 */
import assert from "node:assert/strict";
import { buildArch } from "../../arch/mod.ts";
import { PIPELINE } from "../../compiler/mod.ts";
import { hashString, type Node, summarize, topoOrder, uniform } from "../../ir/mod.ts";
import { compileGraph } from "../../mod.ts";
import { exists, runCli } from "../cli/_run.ts";
import { Pickle, torchArchive } from "../formats/_torch_writer.ts";
import { join } from "../_path.ts";
import { CHECKPOINTS } from "./_fixtures.ts";

/** Writes the seeded weights of `arch`'s `layout` as a torch.save state_dict; returns the graph. */
async function writeSeeded(arch: string, layout: string, path: string) {
  const built = await buildArch(arch, { weights: "seeded", layout, seed: 7 });
  const weights = topoOrder(built.graph).filter((node) => node.op === "weight") as Node<"weight">[];
  const p = new Pickle().proto(2).global("collections", "OrderedDict").emptyTuple().reduce()
    .mark();
  const storages: Record<string, Uint8Array> = {};
  weights.forEach((node, i) => {
    const numel = node.data!.length;
    p.str(node.attrs.name).tensor({ name: "", key: `${i}`, numel, shape: node.attrs.shape });
    storages[`${i}`] = new Uint8Array(node.data!.buffer, node.data!.byteOffset, 4 * numel);
  });
  await Deno.writeFile(path, torchArchive(p.setitems().stop().bytes(), storages));
  return built;
}

async function runModule(dir: string, x: Float32Array): Promise<Float32Array> {
  const { load } = await import(join(dir, "model.js"));
  const model = await load();
  try {
    return await model.run(x);
  } finally {
    model.dispose();
  }
}

const CASES = [
  { arch: "RepVGG-A0", layout: "training", blocks: 22, depthwise: 0 },
  { arch: "MobileOne-S0", layout: "deploy", blocks: 43, depthwise: 21 },
];

for (const { arch, layout, blocks, depthwise } of CASES) {
  Deno.test(`compile.ts ${arch} (${layout} form, full size) --arch ${arch} --target wasm`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "refold-reparam-cli-" });
    try {
      const pth = join(dir, `${arch}.pth`), out = join(dir, "out");
      const built = await writeSeeded(arch, layout, pth);
      const args = [pth, "--arch", arch.toLowerCase(), "--target", "wasm", "--out", out];
      const { code, stdout, stderr } = await runCli(args);
      assert.equal(code, 0, stderr);
      assert.match(stdout, new RegExp(`\\n  ${arch}, ${layout} form\\n`));
      if (layout === "deploy") {
        assert.match(
          stdout,
          /skipped \(nothing to do in deploy form\): fold-batchnorm, compose-convs, merge-parallel-convs, conv-into-fc, group-fc, lower-batchnorm\n/,
        );
      }
      const passes = PIPELINE.map((pass) => pass.name).filter((p) => !built.skipPasses.includes(p));
      const reference = await compileGraph(built.graph, { target: "wasm", passes });
      const ops = summarize(reference.deployed).ops;
      assert.equal(ops.conv2d, blocks);
      assert.equal(ops.batchnorm ?? 0, 0);
      assert.equal(ops.add ?? 0, 0);
      const dw = topoOrder(reference.deployed).filter((n) =>
        n.op === "conv2d" && n.attrs.groups > 1 && n.attrs.groups === n.inputs[0].type.shape[1]
      );
      assert.equal(dw.length, depthwise);
      const refDir = join(dir, "reference");
      await Deno.mkdir(refDir);
      for (const { path, contents } of reference.files) {
        if (typeof contents === "string") await Deno.writeTextFile(join(refDir, path), contents);
        else await Deno.writeFile(join(refDir, path), contents);
      }
      const x = uniform(3 * 224 * 224, hashString(arch), -1, 1);
      const y = await runModule(out, x);
      assert.deepEqual(y, await runModule(refDir, x));
      assert.equal(y.length, 1000);
      assert.ok(y.every(Number.isFinite) && new Set(y).size > 900, "logits depend on the class");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("compile.ts: a reduced RepVGG checkpoint under --arch RepVGG-A0 is one line, exit 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "refold-reparam-cli-" });
  try {
    const out = join(dir, "out");
    const cases: [string, RegExp][] = [
      [
        "RepVGG-A0",
        /^refold: error: \S+repvgg_a0\.training\.pth: does not fit RepVGG-A0 \(training form\): 290 shape mismatches \(stage0\.rbr_dense\.conv\.weight: checkpoint \[4, 3, 3, 3\], model \[48, 3, 3, 3\], /,
      ],
      [
        "MobileOne-S0",
        /^refold: error: \S+repvgg_a0\.training\.pth: does not fit MobileOne-S0 \(training form\): \d+ missing keys \(stage0\.rbr_scale\.conv\.weight, .*\d+ unexpected keys \(stage0\.rbr_dense\.conv\.weight, /,
      ],
    ];
    for (const [arch, expected] of cases) {
      const args = [join(CHECKPOINTS, "repvgg_a0.training.pth"), "--arch", arch, "--out", out];
      const { code, stderr } = await runCli(args);
      assert.equal(code, 1, stderr);
      assert.equal(stderr.trim().split("\n").length, 1, stderr);
      assert.match(stderr.trim(), expected);
      assert.ok(!exists(out), "no output directory");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
