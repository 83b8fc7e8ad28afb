/**
 * Strict loading, as load_state_dict(strict=True): a checkpoint that misses a
 * key, has one too many, a wrong shape or an integer tensor where a weight
 * belongs is refused with ONE line naming the first few of each kind with
 * counts, before a single value is read; and nothing is ever filled in.
 */
import assert from "node:assert/strict";
import { buildArch, expectedTensors, findArch } from "../../arch/mod.ts";
import { type Checkpoint, type CheckpointTensor, openCheckpoint } from "../../formats/mod.ts";
import { RefoldError } from "../../ir/mod.ts";
import { CHECKPOINTS, definitionOf } from "./_fixtures.ts";

/** A checkpoint holding `tensors` whose values must never be read. */
function unreadable(tensors: Map<string, CheckpointTensor>): Checkpoint {
  return {
    file: "c.pth",
    format: "test",
    wrapper: "a state_dict",
    tensors,
    read: () => Promise.reject(new Error("values read before the keys were checked")),
    close() {},
  };
}

/** The training layout's expected tensors of the reduced RepMLPNet, as f32 checkpoint entries. */
function repmlpnetTensors(): Map<string, CheckpointTensor> {
  const expected = expectedTensors(definitionOf("repmlpnet").layouts[0]);
  return new Map([...expected].map(([key, shape]) => [key, { dtype: "f32", shape }]));
}

async function refusal(definition: Parameters<typeof buildArch>[0], checkpoint: Checkpoint) {
  try {
    await buildArch(definition, { weights: checkpoint });
  } catch (error) {
    if (!(error instanceof RefoldError)) throw error;
    assert.ok(!error.message.includes("\n"));
    return error.message;
  }
  throw new Error("built without complaint");
}

Deno.test("one missing, one unexpected, one reshaped and one integer tensor, in one line", async () => {
  const tensors = repmlpnetTensors();
  tensors.delete("head.bias");
  tensors.set("head.extra", { dtype: "f32", shape: [3] });
  tensors.set("head.weight", { dtype: "f32", shape: [16, 10] });
  tensors.set("head_norm.weight", { dtype: "i64", shape: [16] });
  tensors.set("head_norm.num_batches_tracked", { dtype: "i64", shape: [] });
  assert.equal(
    await refusal(definitionOf("repmlpnet"), unreadable(tensors)),
    "c.pth: does not fit repmlpnet-reduced (training form): 1 missing key (head.bias); " +
      "1 unexpected key (head.extra); 1 shape mismatch (head.weight: checkpoint [16, 10], " +
      "model [10, 16]); 1 non-float tensor (head_norm.weight: i64)",
  );
});

Deno.test("many problems: the first four of each kind and a count", async () => {
  const tensors = repmlpnetTensors();
  const keys = [...tensors.keys()];
  for (const key of keys.slice(0, 10)) tensors.delete(key);
  for (const key of keys.slice(10, 16)) tensors.set(`module2.${key}`, tensors.get(key)!);
  const message = await refusal(definitionOf("repmlpnet"), unreadable(tensors));
  assert.equal(
    message,
    `c.pth: does not fit repmlpnet-reduced (training form): 10 missing keys (${
      keys.slice(0, 4).join(", ")
    }, ... 6 more); 6 unexpected keys (${
      keys.slice(10, 14).map((k) => `module2.${k}`).join(", ")
    }, ... 2 more)`,
  );
});

Deno.test("a checkpoint of another architecture is refused against the closest layout", async () => {
  const checkpoint = await openCheckpoint(`${CHECKPOINTS}res50.deploy.pth`);
  try {
    const message = await refusal(definitionOf("repmlpnet"), checkpoint);
    assert.match(
      message,
      /^\S+res50\.deploy\.pth: does not fit repmlpnet-reduced \((training|deploy) form\): \d+ missing keys \(conv_embedding\.conv\.weight, .*; \d+ unexpected keys \(stage0\.0\.conv\.weight, stage0\.0\.conv\.bias, /,
    );
  } finally {
    checkpoint.close();
  }
});

Deno.test("a registered architecture's checkpoint given the wrong name says which name fits", async () => {
  const expected = expectedTensors(findArch("RepMLPNet-T224").layouts[1]);
  const tensors = new Map<string, CheckpointTensor>(
    [...expected].map(([key, shape]) => [key, { dtype: "f16", shape }]),
  );
  const message = await refusal("RepMLPNet-B224", unreadable(tensors));
  assert.match(
    message,
    /^c\.pth: does not fit RepMLPNet-B224 \(deploy form\): 144 missing keys \(stages\.2\.6\.prebn1\.weight, .*; 301 shape mismatches \(conv_embedding\.conv\.weight: checkpoint \[64, 3, 4, 4\], model \[96, 3, 4, 4\], /,
  );
  assert.match(message, /; it fits RepMLPNet-T224 \(deploy form\): use --arch RepMLPNet-T224$/);
});

Deno.test("the deploy form is chosen by its keys, and num_batches_tracked is never required", async () => {
  const deploy = expectedTensors(definitionOf("repmlpnet").layouts[1]);
  assert.ok(deploy.has("stages.0.0.repmlp_block.fc3.bias"));
  assert.ok(
    ![...deploy.keys()].some((key) => key.includes("repconv") || key.includes("num_batches")),
  );
  const values = new Map([...deploy].map(([key, shape]) => [
    key,
    new Float32Array(shape.reduce((a, d) => a * d, 1)).fill(0.5),
  ]));
  const checkpoint: Checkpoint = {
    ...unreadable(new Map([...deploy].map(([key, shape]) => [key, { dtype: "f32", shape }]))),
    read: (names) => Promise.resolve(new Map([...names].map((name) => [name, values.get(name)!]))),
  };
  const built = await buildArch(definitionOf("repmlpnet"), { weights: checkpoint });
  assert.equal(built.layout.name, "deploy");
  assert.deepEqual(built.skipPasses, ["merge-parallel-convs", "conv-into-fc"]);
});
