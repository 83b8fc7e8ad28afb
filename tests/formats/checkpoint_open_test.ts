/**
 * openCheckpoint's choices and refusals: format by content, folders with an
 * index or one file, and every way a shard index can disagree with its shards.
 */
import assert from "node:assert/strict";
import { loadCheckpoint, openCheckpoint } from "../../formats/mod.ts";
import { encodeSafetensors } from "../../formats/safetensors.ts";
import { RefoldError } from "../../ir/mod.ts";
import { CHECKPOINTS, MANIFEST } from "../arch/_fixtures.ts";
import { join } from "../_path.ts";

async function inTemp(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "refold-open-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function refusal(path: string): Promise<string> {
  try {
    (await openCheckpoint(path)).close();
  } catch (error) {
    if (!(error instanceof RefoldError)) throw error;
    assert.ok(!error.message.includes("\n"));
    return error.message;
  }
  throw new Error("opened without complaint");
}

const tensor = (name: string) => ({ name, shape: [2], data: Float32Array.of(1, 2) });

Deno.test("the format is told by content, whatever the extension", async () => {
  await inTemp(async (dir) => {
    await Deno.copyFile(`${CHECKPOINTS}repmlpnet.deploy.pth`, join(dir, "weights.bin"));
    await Deno.writeFile(join(dir, "weights.data"), encodeSafetensors([tensor("a")]));
    const torch = await openCheckpoint(join(dir, "weights.bin"));
    assert.equal(torch.format, "torch.save zip archive");
    torch.close();
    const safetensors = await openCheckpoint(join(dir, "weights.data"));
    assert.equal(safetensors.format, "safetensors");
    assert.deepEqual(await safetensors.read(["a"]), new Map([["a", Float32Array.of(1, 2)]]));
    safetensors.close();
    await Deno.writeTextFile(join(dir, "notes.txt"), "hello, world");
    assert.equal(
      await refusal(join(dir, "notes.txt")),
      `${join(dir, "notes.txt")}: not a checkpoint refold reads: expected a torch.save zip ` +
        "archive (.pth, .pt) or a safetensors file",
    );
    assert.equal(await refusal(join(dir, "none.pth")), `${join(dir, "none.pth")}: file not found`);
    // A FIFO would block a reader forever: only regular files are opened.
    const fifo = join(dir, "fifo.pth");
    const { code } = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert.equal(code, 0);
    assert.equal(await refusal(fifo), `${fifo}: is not a file`);
  });
  const legacy = await Deno.readFile(`${CHECKPOINTS}${MANIFEST.hostile.legacy}`);
  await assert.rejects(() => loadCheckpoint(legacy, { file: "old.pth" }), {
    message: "old.pth: a legacy (pre-1.6, non-zip) torch.save file; re-save it with a current " +
      "PyTorch: torch.save(torch.load(path), path2)",
  });
});

Deno.test("folders: an index, or exactly one safetensors file", async () => {
  await inTemp(async (dir) => {
    assert.match(
      await refusal(dir),
      /: a checkpoint folder must hold model\.safetensors\.index\.json \(sharded safetensors\) or exactly one \.safetensors file; it holds 0 \.safetensors files and no index$/,
    );
    await Deno.writeFile(join(dir, "one.safetensors"), encodeSafetensors([tensor("a")]));
    const single = await openCheckpoint(dir);
    assert.deepEqual([...single.tensors.keys()], ["a"]);
    single.close();
    await Deno.writeFile(join(dir, "two.safetensors"), encodeSafetensors([tensor("b")]));
    assert.match(await refusal(dir), /it holds 2 \.safetensors files and no index$/);
  });
  const shards = await openCheckpoint(
    `${CHECKPOINTS}repmlpnet_shards/model.safetensors.index.json`,
  );
  assert.equal(shards.format, "safetensors, 2 shards");
  shards.close();
});

Deno.test("a shard index must agree with its shards exactly", async () => {
  await inTemp(async (dir) => {
    const index = (map: Record<string, unknown>) =>
      Deno.writeTextFile(
        join(dir, "model.safetensors.index.json"),
        JSON.stringify({ weight_map: map }),
      );
    await Deno.writeFile(
      join(dir, "s1.safetensors"),
      encodeSafetensors([tensor("a"), tensor("b")]),
    );
    await Deno.writeFile(join(dir, "s2.safetensors"), encodeSafetensors([tensor("c")]));
    const file = join(dir, "model.safetensors.index.json");
    const cases: [Record<string, unknown>, string][] = [
      [{ a: "s1.safetensors", b: "s1.safetensors" }, `shard s2.safetensors is never named`],
      [
        { a: "s1.safetensors", b: "s1.safetensors", c: "s1.safetensors" },
        `the index puts "c" in s1.safetensors, which does not hold it`,
      ],
      [
        { a: "s1.safetensors", c: "s2.safetensors" },
        `shard s1.safetensors holds "b", which the index does not list`,
      ],
      [
        { a: "../s1.safetensors" },
        `weight_map["a"] must be a .safetensors file name in the same folder, got "../s1.safetensors"`,
      ],
      [{ a: 3 }, `weight_map["a"] must be a .safetensors file name in the same folder, got 3`],
      [{}, "weight_map is empty"],
    ];
    for (const [map, expected] of cases) {
      await index(map);
      if (expected.includes("never named")) {
        // A shard the index never names is simply not read.
        const opened = await openCheckpoint(dir);
        assert.deepEqual([...opened.tensors.keys()], ["a", "b"]);
        opened.close();
        continue;
      }
      assert.equal(await refusal(dir), `${file}: ${expected}`);
    }
    await Deno.writeTextFile(file, "{not json");
    assert.match(await refusal(dir), /model\.safetensors\.index\.json: not valid JSON: /);
    // A shard that is a link to a file outside the folder.
    const outside = await Deno.makeTempFile({ suffix: ".safetensors" });
    try {
      await Deno.writeFile(outside, encodeSafetensors([tensor("z")]));
      await Deno.symlink(outside, join(dir, "link.safetensors"));
      await index({ z: "link.safetensors" });
      assert.equal(
        await refusal(dir),
        `${file}: shard link.safetensors resolves outside the folder`,
      );
    } finally {
      await Deno.remove(outside);
    }
  });
});
