/**
 * compile.ts CHECKPOINT --arch NAME, as a user runs it: --arch list, a
 * full-size Res50-224 checkpoint (deploy form, DDP keys, {"state_dict": ...},
 * written here byte by byte with seeded values) compiled in one command, and
 * refusals as one line with exit status 1 and no output directory (the
 * readers' other refusals are tested in-process, in tests/formats and tests/arch).
 */
import assert from "node:assert/strict";
import { buildArch } from "../../arch/mod.ts";
import { type Node, topoOrder } from "../../ir/mod.ts";
import { CHECKPOINTS, MANIFEST } from "../arch/_fixtures.ts";
import { Pickle, torchArchive } from "../formats/_torch_writer.ts";
import { join } from "../_path.ts";
import { exists, runCli } from "./_run.ts";

async function inTemp(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "refold-arch-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("--arch list prints every architecture with parameter counts", async () => {
  const { code, stdout, stderr } = await runCli(["--arch", "list"]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^architectures for --arch/);
  assert.match(stdout, /RepMLPNet-T224 .*\n\s+parameters: training 38\.3M, deploy 38\.4M/);
  assert.match(stdout, /RepMLP-Res50-Bottleneck-224/);
  assert.match(
    stdout,
    /\n {2}RepVGG-B1g4 .*4 groups.*\n\s+parameters: training 40\.0M, deploy 36\.1M\n/,
  );
  assert.match(stdout, /\n {2}MobileOne-S4 .*\n\s+parameters: training 15\.1M, deploy 14\.8M\n$/);
});

/** Res50-224's deploy-form weights (seeded) as torch.save would write {"state_dict": DDP keys}. */
async function res50DeployCheckpoint(path: string): Promise<number> {
  const { graph } = await buildArch("Res50-224", { weights: "seeded", layout: "deploy" });
  const weights = topoOrder(graph).filter((node) => node.op === "weight") as Node<"weight">[];
  const p = new Pickle().proto(2).emptyDict().str("state_dict")
    .global("collections", "OrderedDict").emptyTuple().reduce().mark();
  const storages: Record<string, Uint8Array> = {};
  weights.forEach((node, i) => {
    const shape = node.attrs.shape;
    const numel = node.data!.length;
    p.str(`module.${node.attrs.name}`).tensor({ name: "", key: `${i}`, numel, shape });
    storages[`${i}`] = new Uint8Array(node.data!.buffer, node.data!.byteOffset, 4 * numel);
  });
  const pickle = p.setitems().setitem().stop().bytes();
  await Deno.writeFile(path, torchArchive(pickle, storages, { prefix: "res50" }));
  return weights.length;
}

Deno.test("a full-size Res50-224 deploy checkpoint compiles in one command", async () => {
  await inTemp(async (dir) => {
    const tensors = await res50DeployCheckpoint(join(dir, "res50.pth"));
    const out = join(dir, "out");
    const { code, stdout, stderr } = await runCli([
      join(dir, "res50.pth"),
      "--arch",
      "res50-224",
      "--out",
      out,
      "--emit-ir",
    ]);
    assert.equal(code, 0, stderr);
    assert.ok(
      stdout.includes(
        `  torch.save zip archive: the "state_dict" entry of a dict (state_dict); key prefix ` +
          `"module." (DDP) removed; ${tensors} tensors\n  Res50-224, deploy form\n` +
          "  skipped (nothing to do in deploy form): fold-batchnorm, merge-parallel-convs, " +
          "conv-into-fc, lower-batchnorm\n",
      ),
      stdout,
    );
    assert.ok(!/batchnorm +(un)?changed/.test(stdout), "no BatchNorm pass ran");
    for (const file of ["model.js", "model.ir", "weights.bin"]) assert.ok(exists(join(out, file)));
  });
});

Deno.test("refusals: one line, exit 1, no output written", async () => {
  const fixture = (name: string) => join(CHECKPOINTS, name);
  await Deno.remove("/tmp/refold_pickle_was_executed").catch(() => {});
  await inTemp(async (dir) => {
    const out = join(dir, "out");
    const cases: [string[], RegExp][] = [
      [
        ["--arch", "nope", fixture("res50.deploy.pth")],
        /^refold: error: unknown architecture "nope"; the architectures are RepMLPNet-T224,/,
      ],
      [
        ["--arch", "RepMLPNet-T224"],
        /^refold: error: --arch RepMLPNet-T224 needs exactly one checkpoint file or folder$/,
      ],
      [
        [fixture("res50.deploy.pth")],
        /res50\.deploy\.pth: a checkpoint holds weights but no graph: name its architecture with --arch NAME/,
      ],
      [
        ["--arch", "Res50-224", join(dir, "model.onnx")],
        /model\.onnx: --arch Res50-224 reads checkpoints/,
      ],
      [
        ["--arch", "Res50-224", fixture("res50.deploy.pth")],
        /res50\.deploy\.pth: does not fit Res50-224 \(deploy form\): \d+ missing keys .* shape mismatches/,
      ],
      [
        ["--arch", "Res50-224", fixture(MANIFEST.hostile.system)],
        /global posix\.system is not allowed/,
      ],
    ];
    for (const [args, expected] of cases) {
      const { code, stdout, stderr } = await runCli([...args, "--out", out]);
      assert.equal(code, 1, `${args.join(" ")}: ${stdout}${stderr}`);
      assert.equal(stderr.trim().split("\n").length, 1, stderr);
      assert.match(stderr.trim(), expected);
      assert.ok(!exists(out), "no output directory");
    }
  });
  assert.ok(!exists("/tmp/refold_pickle_was_executed"), "the pickle ran nothing");
});
