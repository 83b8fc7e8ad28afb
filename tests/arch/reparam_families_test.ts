/**
 * RepVGG and MobileOne through `--arch`'s library path, from the torch.save
 * fixtures (reduced RepVGG-A0 and -B1g4, MobileOne-S0 and -S4, written by
 * gen_checkpoints.py with PyTorch's float64 outputs):
 * - compileFile(checkpoint, { arch }) in training and deploy form gives a js
 *   and a wasm module whose output equals PyTorch's to float32 accuracy;
 * - the deployed graph is the published form: one conv per RepVGG block, one
 *   depthwise and one pointwise conv per MobileOne pair, nothing else but
 *   ReLU, the head and S4's squeeze-excite;
 * - a renamed, missing or reshaped key is one line naming it.
 */
import assert from "node:assert/strict";
import { buildArch, expectedTensors, repvggArch } from "../../arch/mod.ts";
import {
  mobileoneBlocks,
  type MobileoneConfig,
  REPVGG_CONFIGS,
  repvggBlocks,
} from "../../examples/mod.ts";
import type { RepvggConfig } from "../../examples/mod.ts";
import { type Checkpoint, type CheckpointTensor, openCheckpoint } from "../../formats/mod.ts";
import { type Graph, RefoldError, sizeOf, summarize, topoOrder } from "../../ir/mod.ts";
import { compileFile } from "../../mod.ts";
import { assertClose } from "../_assert.ts";
import { join } from "../_path.ts";
import { CHECKPOINTS, definitionOf, MANIFEST, readF32, readF64 } from "./_fixtures.ts";

const FIXTURES = ["repvgg_a0", "repvgg_b1g4", "mobileone_s0", "mobileone_s4"];

/** Runs the emitted module on the fixture's input. */
async function runModule(
  files: readonly { path: string; contents: string | Uint8Array }[],
  x: Float32Array,
) {
  const dir = await Deno.makeTempDir({ prefix: "refold-reparam-" });
  try {
    for (const { path, contents } of files) {
      if (typeof contents === "string") await Deno.writeTextFile(join(dir, path), contents);
      else await Deno.writeFile(join(dir, path), contents);
    }
    const { load } = await import(join(dir, "model.js"));
    const model = await load();
    const y = await model.run(x);
    model.dispose();
    return y as Float32Array;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The published form's op counts for a fixture's config. */
function publishedOps(name: string): Record<string, number> {
  const fixture = MANIFEST.archs[name];
  if (fixture.family === "repvgg") {
    const blocks = repvggBlocks(fixture.config as RepvggConfig).length;
    return { conv2d: blocks, relu: blocks, global_avgpool: 1, reshape: 1, linear: 1 };
  }
  const blocks = mobileoneBlocks(fixture.config as MobileoneConfig);
  // Squeeze-excite: pool, two FCs (1x1 convs on 1x1 maps), ReLU, sigmoid, mul.
  const se = blocks.filter((block) => block.se).length;
  return {
    conv2d: blocks.length,
    relu: blocks.length + se,
    global_avgpool: 1 + se,
    reshape: 1 + 2 * se,
    linear: 1 + 2 * se,
    ...(se ? { sigmoid: se, mul: se } : {}),
  };
}

/** Every conv of the deployed graph: its kernel size, groups and channels. */
function convs(graph: Graph) {
  return topoOrder(graph).flatMap((node) => {
    if (node.op !== "conv2d") return [];
    const [out, perGroup, kh, kw] = node.inputs[1].type.shape;
    return [{ out, perGroup, kh, kw, groups: node.attrs.groups, bias: node.inputs.length > 2 }];
  });
}

for (const name of FIXTURES) {
  const fixture = MANIFEST.archs[name];
  for (const checkpoint of fixture.checkpoints) {
    for (const target of ["js", "wasm"]) {
      Deno.test(`${checkpoint.file} --arch (compileFile) -> ${target}: PyTorch's output, published form`, async () => {
        const result = await compileFile(`${CHECKPOINTS}${checkpoint.file}`, {
          arch: definitionOf(name),
          batch: MANIFEST.batch,
          target,
        });
        // The deploy form skips every pass but canonicalize, which has nothing to tidy either.
        const ran = result.reports.map((report) => report.pass);
        if (checkpoint.layout === "deploy") assert.deepEqual([...new Set(ran)], ["canonicalize"]);
        assert.deepEqual(summarize(result.deployed).ops, publishedOps(name));
        const kernels = convs(result.deployed);
        assert.ok(kernels.every((conv) => conv.bias), "every conv carries its folded bias");
        if (fixture.family === "repvgg") {
          const specs = repvggBlocks(fixture.config as RepvggConfig);
          assert.deepEqual(
            kernels.map((c) => [c.kh, c.kw, c.groups]),
            specs.map((b) => [3, 3, b.groups]),
          );
        } else {
          // Pairs: a depthwise 3x3 (groups = channels), then a dense pointwise 1x1.
          const specs = mobileoneBlocks(fixture.config as MobileoneConfig);
          assert.deepEqual(
            kernels.map((c) => [c.kh, c.groups, c.perGroup]),
            specs.map((b) => [b.kernel, b.groups, b.inChannels / b.groups]),
          );
          assert.ok(specs.slice(1).every((b, i) => b.kernel === (i % 2 === 0 ? 3 : 1)));
        }
        const y = await runModule(result.files, readF32(fixture.input));
        // float32 kernels against PyTorch's float64: measured 4e-8 to 5e-7 on the reduced
        // RepVGGs and MobileOne-S4. The reduced MobileOne-S0's own float32 floor is higher:
        // PyTorch's converted float32 weights alone move its output 4.3e-6 (deployDrift), and
        // refold's modules are 1e-6 to 3e-6 off, so its bound is 3x that floor.
        const floor = fixture.deployDrift ?? 0;
        assertClose(
          y,
          readF64(checkpoint.expected),
          Math.max(1e-6, 3 * floor),
          `${name} ${target}`,
        );
      });
    }
  }
}

/** The fixture's checkpoint with its tensor table edited (values never read). */
async function edited(
  file: string,
  edit: (tensors: Map<string, CheckpointTensor>) => void,
): Promise<Checkpoint> {
  const opened = await openCheckpoint(`${CHECKPOINTS}${file}`);
  opened.close();
  const tensors = new Map<string, CheckpointTensor>(opened.tensors);
  edit(tensors);
  return {
    file,
    format: opened.format,
    wrapper: opened.wrapper,
    tensors,
    read: () => Promise.reject(new Error("values read before the keys were checked")),
    close() {},
  };
}

async function refusal(name: string, checkpoint: Checkpoint): Promise<string> {
  try {
    await buildArch(definitionOf(name), { weights: checkpoint });
  } catch (error) {
    if (!(error instanceof RefoldError)) throw error;
    assert.ok(!error.message.includes("\n"), error.message);
    return error.message;
  }
  throw new Error("built without complaint");
}

Deno.test("RepVGG: a renamed, a missing and a reshaped key are one line naming each", async () => {
  const file = "repvgg_a0.training.pth";
  const renamed = await edited(file, (t) => {
    t.set("stage1.0.rbr_dense.conv.weights", t.get("stage1.0.rbr_dense.conv.weight")!);
    t.delete("stage1.0.rbr_dense.conv.weight");
  });
  assert.equal(
    await refusal("repvgg_a0", renamed),
    `${file}: does not fit repvgg_a0-reduced (training form): 1 missing key ` +
      "(stage1.0.rbr_dense.conv.weight); 1 unexpected key (stage1.0.rbr_dense.conv.weights)",
  );
  const missing = await edited(file, (t) => t.delete("stage3.13.rbr_identity.running_var"));
  assert.equal(
    await refusal("repvgg_a0", missing),
    `${file}: does not fit repvgg_a0-reduced (training form): 1 missing key ` +
      "(stage3.13.rbr_identity.running_var)",
  );
  const reshaped = await edited(
    file,
    (t) => t.set("linear.weight", { dtype: "f32", shape: [64, 10] }),
  );
  assert.equal(
    await refusal("repvgg_a0", reshaped),
    `${file}: does not fit repvgg_a0-reduced (training form): 1 shape mismatch ` +
      "(linear.weight: checkpoint [64, 10], model [10, 64])",
  );
});

Deno.test("MobileOne deploy form: a stray training branch and a missing reparam_conv bias", async () => {
  const file = "mobileone_s0.deploy.pth";
  const mixed = await edited(file, (t) => {
    t.delete("stage2.3.reparam_conv.bias");
    t.set("stage2.3.rbr_skip.running_mean", { dtype: "f32", shape: [8] });
  });
  assert.equal(
    await refusal("mobileone_s0", mixed),
    `${file}: does not fit mobileone_s0-reduced (deploy form): 1 missing key ` +
      "(stage2.3.reparam_conv.bias); 1 unexpected key (stage2.3.rbr_skip.running_mean)",
  );
  // S4's squeeze-excite is part of both forms: without it the checkpoint fits neither.
  const noSe = await edited("mobileone_s4.deploy.pth", (t) => {
    for (const key of [...t.keys()]) if (key.includes(".se.")) t.delete(key);
  });
  assert.match(
    await refusal("mobileone_s4", noSe),
    /^mobileone_s4\.deploy\.pth: does not fit mobileone_s4-reduced \(deploy form\): 16 missing keys \(stage3\.2\.se\.reduce\.weight, stage3\.2\.se\.reduce\.bias, /,
  );
});

Deno.test("a reduced checkpoint under its full-size name: one line naming the shapes", async () => {
  const opened = await openCheckpoint(`${CHECKPOINTS}repvgg_a0.training.pth`);
  try {
    const message = await buildArch("RepVGG-A0", { weights: opened }).then(
      () => "",
      (error: Error) => error.message,
    );
    assert.match(
      message,
      /repvgg_a0\.training\.pth: does not fit RepVGG-A0 \(training form\): \d+ shape mismatches \(stage0\.rbr_dense\.conv\.weight: checkpoint \[4, 3, 3, 3\], model \[48, 3, 3, 3\], /,
    );
    assert.ok(!message.includes("\n"));
  } finally {
    opened.close();
  }
});

Deno.test("a fine-tune to 10 classes: refused under RepVGG-A0 naming linear, built from its own config", async () => {
  const cifar = repvggArch("RepVGG-A0-cifar10", "A0, 10 classes, 32x32", {
    ...REPVGG_CONFIGS["RepVGG-A0"],
    numClasses: 10,
    height: 32,
    width: 32,
  });
  const tensors = new Map<string, CheckpointTensor>(
    [...expectedTensors(cifar.layouts[0])].map(([key, shape]) => [key, { dtype: "f32", shape }]),
  );
  const checkpoint: Checkpoint = {
    file: "a0_cifar10.pth",
    format: "test",
    wrapper: "a state_dict",
    tensors,
    read: (names) =>
      Promise.resolve(
        new Map([...names].map((key) => [key, new Float32Array(sizeOf(tensors.get(key)!.shape))])),
      ),
    close() {},
  };
  await assert.rejects(
    () => buildArch("RepVGG-A0", { weights: checkpoint }),
    {
      message: "a0_cifar10.pth: does not fit RepVGG-A0 (training form): 2 shape mismatches " +
        "(linear.weight: checkpoint [10, 1280], model [1000, 1280], linear.bias: checkpoint [10], " +
        "model [1000])",
    },
  );
  const built = await buildArch(cifar, { weights: checkpoint });
  assert.equal(built.layout.name, "training");
  assert.deepEqual(built.graph.outputs.map((o) => o.node.type.shape), [[1, 10]]);
});
