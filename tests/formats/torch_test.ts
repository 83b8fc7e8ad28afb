/**
 * The torch.save reader on what torch writes (the committed fixtures) and on
 * hand-written archives for what is rarer: strides, storage offsets, shared
 * storages, big-endian records, zip64. Values must equal the ones PyTorch
 * stored bit for bit, and a contiguous f32 tensor must cost no copy.
 */
import assert from "node:assert/strict";
import { loadCheckpoint, openCheckpoint } from "../../formats/mod.ts";
import { CHECKPOINTS } from "../arch/_fixtures.ts";
import { f32le, Pickle, stateDictPickle, torchArchive } from "./_torch_writer.ts";

async function values(path: string): Promise<Map<string, Float32Array>> {
  const checkpoint = await openCheckpoint(`${CHECKPOINTS}${path}`);
  try {
    const floats = [...checkpoint.tensors].filter(([, t]) => t.dtype !== "i64").map(([k]) => k);
    return await checkpoint.read(floats);
  } finally {
    checkpoint.close();
  }
}

Deno.test("torch.save and safetensors of one state_dict give the same keys and values", async () => {
  const torch = await values("repmlpnet.training.pth");
  const safetensors = await values("repmlpnet.training.safetensors");
  const shards = await values("repmlpnet_shards");
  assert.deepEqual([...torch.keys()], [...safetensors.keys()]);
  assert.ok(torch.size > 50);
  for (const [key, value] of torch) {
    assert.deepEqual(value, safetensors.get(key), key);
    assert.deepEqual(value, shards.get(key), key);
  }
});

Deno.test("non-contiguous tensors: transposed views, interleaved BN storages, stride 0", async () => {
  const plain = await values("repmlpnet.training.pth");
  const strided = await values("repmlpnet.noncontiguous.pth");
  let expanded = 0;
  for (const [key, value] of plain) {
    const other = strided.get(key)!;
    if (other.every((v) => v === 1.25) && !value.every((v) => v === 1.25)) {
      expanded++; // the stride-0 expansion of one stored 1.25
      continue;
    }
    assert.deepEqual(other, value, key);
  }
  assert.equal(expanded, 1);
});

Deno.test("f16, bf16 and f64 storages widen to the float32 of the stored value", async () => {
  const plain = await values("repmlpnet.training.pth");
  const half = await values("repmlpnet.f16.pth");
  const mixed = await values("repmlpnet.mixed.pth");
  const opened = await openCheckpoint(`${CHECKPOINTS}repmlpnet.mixed.pth`);
  const dtypes = new Set([...opened.tensors.values()].map((t) => t.dtype));
  opened.close();
  assert.deepEqual([...dtypes].sort(), ["bf16", "f32", "f64", "i64"]);
  for (const [key, value] of plain) {
    // Rounding to f16 or bf16 moves a value by at most half an ulp of that format.
    half.get(key)!.forEach((v, i) =>
      assert.ok(Math.abs(v - value[i]) <= Math.abs(value[i]) * 2 ** -11 + 2 ** -25, key)
    );
    mixed.get(key)!.forEach((v, i) =>
      assert.ok(Math.abs(v - value[i]) <= Math.abs(value[i]) * 2 ** -8, key)
    );
  }
});

Deno.test("loadCheckpoint(bytes) reads what openCheckpoint(path) reads; f32 tensors are views of the bytes", async () => {
  const bytes = await Deno.readFile(`${CHECKPOINTS}repmlpnet.training.pth`);
  const checkpoint = await loadCheckpoint(bytes, { file: "mem.pth" });
  assert.equal(checkpoint.file, "mem.pth");
  assert.equal(checkpoint.format, "torch.save zip archive");
  const fromFile = await values("repmlpnet.training.pth");
  const fromBytes = await checkpoint.read(fromFile.keys());
  for (const [key, value] of fromFile) {
    assert.deepEqual(fromBytes.get(key), value);
    assert.equal(fromBytes.get(key)!.buffer, bytes.buffer, `${key} is a view, not a copy`);
  }
});

function sharedStorageArchive(options: { byteorder?: string; zip64?: boolean } = {}) {
  // One storage of 12 floats holding: a (2x3, offset 0), b (3x2 transposed view of a's
  // elements 6..11), c (scalar at offset 5), d (3 elements at stride 4 from offset 1).
  const storage = Array.from({ length: 12 }, (_, i) => i * 1.5 - 4);
  const pickle = stateDictPickle([
    { name: "a", key: "0", numel: 12, shape: [2, 3] },
    { name: "b", key: "0", numel: 12, shape: [3, 2], stride: [1, 3], offset: 6 },
    { name: "c", key: "0", numel: 12, shape: [], offset: 5 },
    { name: "d", key: "0", numel: 12, shape: [3], stride: [4], offset: 1 },
  ]);
  const bytes = f32le(storage);
  if (options.byteorder === "big") {
    for (let i = 0; i < bytes.length; i += 4) bytes.subarray(i, i + 4).reverse();
  }
  return { bytes: torchArchive(pickle, { "0": bytes }, options), storage };
}

Deno.test("strides, storage offsets and shared storages read the right elements", async () => {
  for (const options of [{}, { byteorder: "little" }, { byteorder: "big" }, { zip64: true }]) {
    const { bytes, storage: s } = sharedStorageArchive(options);
    const checkpoint = await loadCheckpoint(bytes, { file: "hand.pth" });
    const read = await checkpoint.read(["a", "b", "c", "d"]);
    const label = JSON.stringify(options);
    assert.deepEqual([...read.get("a")!], s.slice(0, 6), label);
    assert.deepEqual([...read.get("b")!], [s[6], s[9], s[7], s[10], s[8], s[11]], label);
    assert.deepEqual([...read.get("c")!], [s[5]], label);
    assert.deepEqual([...read.get("d")!], [s[1], s[5], s[9]], label);
    assert.deepEqual(checkpoint.tensors.get("b"), { dtype: "f32", shape: [3, 2] });
  }
});

Deno.test("a storage is read from the file once: contiguous tensors of it share one buffer", async () => {
  const dir = await Deno.makeTempDir({ prefix: "refold-torch-" });
  try {
    const pickle = stateDictPickle([
      { name: "first", key: "0", numel: 8, shape: [4] },
      { name: "second", key: "0", numel: 8, shape: [2, 2], offset: 4 },
    ]);
    await Deno.writeFile(
      `${dir}/s.pth`,
      torchArchive(pickle, { "0": f32le([1, 2, 3, 4, 5, 6, 7, 8]) }),
    );
    const checkpoint = await openCheckpoint(`${dir}/s.pth`);
    const read = await checkpoint.read(["first", "second"]);
    checkpoint.close();
    assert.deepEqual([...read.get("second")!], [5, 6, 7, 8]);
    assert.equal(read.get("first")!.buffer, read.get("second")!.buffer);
    assert.equal(read.get("first")!.buffer.byteLength, 32, "the buffer is the record, no more");
    await assert.rejects(() => checkpoint.read(["first"]), /read after close/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("wrappers: model before state_dict before model_state_dict; partial prefixes stay", async () => {
  const tensor = (name: string) => ({ name, key: "0", numel: 2, shape: [2] });
  const body = (p: Pickle, names: string[]) => {
    p.global("collections", "OrderedDict").emptyTuple().reduce().mark();
    for (const name of names) p.str(name).tensor(tensor(name));
    return p.setitems();
  };
  const wrapped = body(
    body(new Pickle().proto(2).emptyDict().mark().str("state_dict"), ["module.s"])
      .str("model"),
    ["module.m", "other.n"],
  ).str("epoch").int(3).setitems().stop().bytes();
  const checkpoint = await loadCheckpoint(torchArchive(wrapped, { "0": f32le([1, 2]) }), {
    file: "w.pth",
  });
  assert.deepEqual([...checkpoint.tensors.keys()], ["module.m", "other.n"]);
  assert.equal(checkpoint.wrapper, 'the "model" entry of a dict (state_dict, model, epoch)');
});

Deno.test("read() refuses unknown names and integer tensors by name", async () => {
  const bytes = await Deno.readFile(`${CHECKPOINTS}repmlpnet.training.pth`);
  const checkpoint = await loadCheckpoint(bytes, { file: "m.pth" });
  await assert.rejects(() => checkpoint.read(["nope"]), { message: 'm.pth: no tensor "nope"' });
  const counter = [...checkpoint.tensors].find(([, t]) => t.dtype === "i64")![0];
  await assert.rejects(() => checkpoint.read([counter]), {
    message:
      `m.pth: tensor "${counter}": dtype i64 is not a float; refold reads f32, f16, bf16 and f64`,
  });
});
