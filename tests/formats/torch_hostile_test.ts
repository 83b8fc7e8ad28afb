/**
 * Hostile and broken torch.save files: each is refused with one line that
 * names the file and the problem, and nothing in them is ever run. The
 * os.system pickle and the pickled nn.Module are real torch.save output
 * (gen_checkpoints.py); the rest are written byte by byte.
 */
import assert from "node:assert/strict";
import { loadCheckpoint, openCheckpoint } from "../../formats/mod.ts";
import { RefoldError } from "../../ir/mod.ts";
import { CHECKPOINTS, MANIFEST } from "../arch/_fixtures.ts";
import { f32le, Pickle, stateDictPickle, torchArchive, zipStored } from "./_torch_writer.ts";

/** The one-line message of the RefoldError that loading (and reading everything) throws. */
async function refusal(bytes: Uint8Array, file = "h.pth"): Promise<string> {
  try {
    const checkpoint = await loadCheckpoint(bytes, { file });
    await checkpoint.read(
      [...checkpoint.tensors].filter(([, t]) => t.dtype.startsWith("f")).map(([k]) => k),
    );
  } catch (error) {
    if (!(error instanceof RefoldError)) throw error;
    assert.ok(!error.message.includes("\n"), "one line");
    assert.ok(error.message.startsWith(`${file}: `), error.message);
    return error.message;
  }
  throw new Error("loaded without complaint");
}

/** A state_dict pickle around `inner` (a value pushed by `inner`), as the "model" entry. */
function wrapped(inner: (p: Pickle) => Pickle): Uint8Array {
  return inner(new Pickle().proto(2).emptyDict().str("model")).setitem().stop().bytes();
}

const archive = (pickle: Uint8Array) => torchArchive(pickle, { "0": f32le([1, 2, 3, 4]) });
const MARKER = "/tmp/refold_pickle_was_executed";

Deno.test("os.system via REDUCE (written by torch.save) is refused by name; nothing runs", async () => {
  await Deno.remove(MARKER).catch(() => {});
  const bytes = await Deno.readFile(`${CHECKPOINTS}${MANIFEST.hostile.system}`);
  assert.match(
    await refusal(bytes),
    /^h\.pth: data\.pkl: byte \d+: global posix\.system is not allowed: refold reads tensors/,
  );
  await assert.rejects(() => Deno.stat(MARKER), Deno.errors.NotFound);
});

Deno.test("a pickled nn.Module and a legacy (pre-zip) torch.save file say what to do", async () => {
  const module = await Deno.readFile(`${CHECKPOINTS}${MANIFEST.hostile.module}`);
  const message = await refusal(module);
  assert.match(message, /global \S+ is not allowed/);
  assert.match(message, /if it is a whole model, save model\.state_dict\(\) instead$/);
  const legacy = await Deno.readFile(`${CHECKPOINTS}${MANIFEST.hostile.legacy}`);
  assert.equal(
    await refusal(legacy),
    "h.pth: a legacy (pre-1.6, non-zip) torch.save file; re-save it with a current PyTorch: " +
      "torch.save(torch.load(path), path2)",
  );
});

/** [what, pickle bytes or a whole file, the message expected after "h.pth: "]. */
const PICKLES: [string, Uint8Array, RegExp][] = [
  [
    "builtins.eval",
    wrapped((p) => p.global("builtins", "eval").str("1+1").raw(0x85).reduce()),
    /data\.pkl: byte 13: global builtins\.eval is not allowed/,
  ],
  [
    "REDUCE of a storage class",
    wrapped((p) => p.global("torch", "FloatStorage").emptyTuple().reduce()),
    /REDUCE of torch\.FloatStorage is not allowed/,
  ],
  [
    "OrderedDict built with arguments",
    wrapped((p) => p.global("collections", "OrderedDict").str("x").raw(0x85).reduce()),
    /OrderedDict is only rebuilt empty/,
  ],
  ["NEWOBJ", wrapped((p) => p.emptyList().raw(0x81)), /opcode NEWOBJ is not allowed/],
  ["INST", wrapped((p) => p.raw(0x69)), /opcode INST is not allowed/],
  ["protocol 0 INT", wrapped((p) => p.raw(0x49)), /opcode INT \(protocol 0\) is not allowed/],
  ["an unknown opcode", wrapped((p) => p.raw(0xff)), /unknown opcode 0xff/],
  ["protocol 1", new Pickle().proto(1).none().stop().bytes(), /pickle protocol 1/],
  ["BUILD on a list", wrapped((p) => p.emptyList().emptyDict().raw(0x62)), /BUILD of list/],
  [
    "a 2^62-character string",
    wrapped((p) => p.str8(2n ** 62n, [0x41])),
    /needs 4611686018427387904 bytes, \d+ are left/,
  ],
  [
    "a 2 GB integer",
    wrapped((p) => p.long4(2 ** 31)),
    /an integer of 2147483648 bytes is too long/,
  ],
  [
    "a tensor of 2^32 elements",
    stateDictPickle([{ name: "w", key: "0", numel: 4, shape: [65536, 65536] }]),
    /a tensor of shape \[65536,65536\] has 4294967296 elements, more than 2\^30/,
  ],
  [
    "a tensor past the end of its storage",
    stateDictPickle([{ name: "w", key: "0", numel: 4, shape: [2, 2], offset: 1 }]),
    /reaches element 4 of storage 0, which has 4/,
  ],
  [
    "a stride past the end of its storage",
    stateDictPickle([{ name: "w", key: "0", numel: 4, shape: [3], stride: [2] }]),
    /reaches element 4 of storage 0, which has 4/,
  ],
  [
    "a storage bigger than its record",
    stateDictPickle([{ name: "w", key: "0", numel: 1e9, shape: [4] }]),
    /tensor "w": storage data\/0 holds 16 bytes, not the 4000000000 of 1000000000 f32 elements/,
  ],
  [
    "a storage record that is not there",
    stateDictPickle([{ name: "w", key: "7", numel: 4, shape: [4] }]),
    /tensor "w": its storage record data\/7 is missing/,
  ],
  [
    "a storage key climbing out of the archive",
    stateDictPickle([{ name: "w", key: "../../etc/passwd", numel: 4, shape: [4] }]),
    /storage key "\.\.\/\.\.\/etc\/passwd"/,
  ],
  [
    "one storage named with two dtypes",
    stateDictPickle([
      { name: "a", key: "0", numel: 4, shape: [4] },
      { name: "b", key: "0", numel: 8, shape: [8], storageType: "HalfStorage" },
    ]),
    /storage 0 is named as f32\[4\] and f16\[8\]/,
  ],
  [
    "a malformed persistent id",
    wrapped((p) => p.mark().str("storage").str("x").tuple().persid()),
    /a persistent id must be \('storage', torch\.<Type>Storage, key, location, numel\)/,
  ],
  [
    "a tuple as a dict key",
    wrapped((p) => p.emptyDict().emptyTuple().none().setitem()),
    /a dict key of type tuple/,
  ],
  [
    "reading a memo never written",
    wrapped((p) => p.get(5)),
    /reads memo 5, which was never written/,
  ],
  ["popping an empty stack", new Pickle().proto(2).reduce().stop().bytes(), /pops an empty stack/],
  ["no STOP", new Pickle().proto(2).emptyDict().bytes(), /the pickle ends without STOP/],
  ["two objects at STOP", new Pickle().proto(2).none().none().stop().bytes(), /STOP with 2 items/],
  [
    "a list instead of a dict",
    new Pickle().proto(2).emptyList().stop().bytes(),
    /no state_dict found: the saved object is not a dict of tensors \(it is a list, not a dict\)/,
  ],
  [
    "a model entry that holds no tensors",
    wrapped((p) => p.emptyDict()),
    /the checkpoint's "model" entry is not a state_dict: it is an empty dict/,
  ],
  [
    "a state_dict with an integer key",
    new Pickle().proto(2).emptyDict().int(3).tensor({ name: "", key: "0", numel: 4, shape: [4] })
      .setitem().stop().bytes(),
    /no state_dict found: the saved object is not a dict of tensors \(it has a key of type number\)/,
  ],
  [
    "GLOBAL without a newline",
    wrapped((p) => p.raw(0x63, 0x61, 0x62)),
    /GLOBAL operand without a newline/,
  ],
  [
    "a string that is not UTF-8",
    wrapped((p) => p.raw(0x8c, 1, 0xff)),
    /a string is not valid UTF-8/,
  ],
  ["TUPLE without MARK", wrapped((p) => p.none().tuple()), /no MARK to pop to/],
  [
    "SETITEMS with a key and no value",
    wrapped((p) => p.emptyDict().mark().str("k").setitems()),
    /SETITEMS with an odd number of items/,
  ],
  [
    "APPEND to a dict",
    wrapped((p) => p.emptyDict().none().append()),
    /APPEND on a dict, not a list/,
  ],
  [
    "REDUCE with a list of arguments",
    wrapped((p) => p.global("collections", "OrderedDict").emptyList().reduce()),
    /REDUCE with list arguments/,
  ],
  [
    "STACK_GLOBAL of numbers",
    wrapped((p) => p.int(1).int(2).raw(0x93)),
    /STACK_GLOBAL needs two strings/,
  ],
  [
    "_rebuild_tensor_v2 with 3 arguments",
    wrapped((p) =>
      p.global("torch._utils", "_rebuild_tensor_v2").mark().none().none().none().tuple().reduce()
    ),
    /_rebuild_tensor_v2 takes 6 or 7 arguments, got 3/,
  ],
  [
    "_rebuild_tensor_v2 of a string",
    wrapped((p) =>
      p.global("torch._utils", "_rebuild_tensor_v2").mark().str("x").int(0).emptyTuple()
        .emptyTuple()
        .bool(false).none().tuple().reduce()
    ),
    /_rebuild_tensor_v2: the first argument is a str, not a storage/,
  ],
  [
    "size and stride of different lengths",
    stateDictPickle([{ name: "w", key: "0", numel: 4, shape: [2, 2], stride: [1] }]),
    /_rebuild_tensor_v2: size \(2,2\) and stride \(1\) differ in length/,
  ],
  [
    "_rebuild_parameter of a string",
    wrapped((p) =>
      p.global("torch._utils", "_rebuild_parameter").mark().str("x").bool(true).none().tuple()
        .reduce()
    ),
    /_rebuild_parameter takes \(tensor, requires_grad, backward_hooks\)/,
  ],
  [
    "a storage of 2^60 elements",
    wrapped((p) =>
      p.mark().str("storage").global("torch", "DoubleStorage").str("0").str("cpu")
        .raw(0x8a, 8, 0, 0, 0, 0, 0, 0, 0, 0x10).tuple().persid()
    ),
    /a persistent id must be/,
  ],
];

for (const [what, pickle, expected] of PICKLES) {
  Deno.test(`refused: ${what}`, async () => {
    assert.match(await refusal(archive(pickle)), expected);
  });
}

Deno.test("recursion bombs: 200000 nested lists and tuples parse without recursion", async () => {
  const depth = 200_000;
  const lists = new Pickle().proto(2);
  for (let i = 0; i < depth; i++) lists.emptyList();
  for (let i = 1; i < depth; i++) lists.append();
  assert.match(await refusal(archive(lists.stop().bytes())), /it is a list, not a dict/);
  const tuples = new Pickle().proto(2);
  for (let i = 0; i < depth; i++) tuples.mark();
  for (let i = 0; i < depth; i++) tuples.tuple();
  assert.match(await refusal(archive(tuples.stop().bytes())), /it is a tuple, not a dict/);
});

Deno.test("memo abuse: a billion-laughs DAG and a list that contains itself stay cheap", async () => {
  // Level i is a list holding level i-1 twice: 2^60 leaves if anything walked it.
  const laughs = new Pickle().proto(2).emptyList().put(0).raw(0x30);
  for (let level = 1; level <= 60; level++) {
    laughs.emptyList().get(level - 1).append().get(level - 1).append().put(level).raw(0x30);
  }
  const start = performance.now();
  assert.match(await refusal(archive(laughs.get(60).stop().bytes())), /it is a list, not a dict/);
  const loop = new Pickle().proto(2).emptyDict().str("model").emptyList().put(0).get(0).append()
    .setitem().stop().bytes();
  assert.match(await refusal(archive(loop)), /"model" entry is not a state_dict: it is a list/);
  // Overwriting memo slots and huge memo indices are bookkeeping, not allocation.
  const slots = new Pickle().proto(2).none().put(0xffffffff).put(0xffffffff).raw(0x30)
    .get(0xffffffff).stop().bytes();
  assert.match(await refusal(archive(slots)), /it is a None, not a dict/);
  assert.ok(performance.now() - start < 2000);
});

Deno.test("broken zip containers are refused by name", async () => {
  const good = archive(stateDictPickle([{ name: "w", key: "0", numel: 4, shape: [4] }]));
  const records = (data: Uint8Array, extra: { method?: number; flags?: number } = {}) => [
    { name: "a/data.pkl", data: stateDictPickle([{ name: "w", key: "0", numel: 4, shape: [4] }]) },
    { name: "a/data/0", data, ...extra },
  ];
  const cases: [string, Uint8Array, RegExp][] = [
    [
      "compressed",
      zipStored(records(f32le([1, 2, 3, 4]), { method: 8 })),
      /entry "a\/data\/0" is compressed \(method 8\)/,
    ],
    [
      "encrypted",
      zipStored(records(f32le([1, 2, 3, 4]), { flags: 1 })),
      /entry "a\/data\/0" is encrypted/,
    ],
    [
      "duplicate names",
      zipStored([...records(f32le([1, 2, 3, 4])), { name: "a/data/0", data: f32le([1]) }]),
      /entry "a\/data\/0" appears twice/,
    ],
    [
      "no data.pkl",
      zipStored([{ name: "x/y", data: f32le([1]) }]),
      /without <name>\/data\.pkl is not a torch\.save file/,
    ],
    [
      "two data.pkl",
      zipStored([...records(f32le([1, 2, 3, 4])), { name: "b/data.pkl", data: f32le([1]) }]),
      /holds 2 data\.pkl records/,
    ],
    ["too short", good.subarray(0, 21), /the file is 21 bytes, too short for a zip archive/],
    ["no end record", good.subarray(0, good.length - 10), /no end-of-central-directory record/],
  ];
  // A flipped byte in a storage fails its CRC when read; in the directory, a check of its own.
  const flipped = good.slice();
  const data = new TextEncoder().encode("archive/data/0");
  const at = good.findIndex((_, i) => data.every((b, j) => good[i + j] === b)) + data.length;
  flipped[at + 2] ^= 0xff;
  cases.push([
    "a flipped storage byte",
    flipped,
    /entry "archive\/data\/0" fails its CRC-32 check/,
  ]);
  const sizeLie = good.slice();
  const eocd = sizeLie.length - 22;
  new DataView(sizeLie.buffer).setUint32(eocd + 16, sizeLie.length, true); // directory offset
  cases.push(["a directory past the end", sizeLie, /central directory \[\d+, \d+\) runs past/]);
  const manyEntries = good.slice();
  new DataView(manyEntries.buffer).setUint16(eocd + 10, 60000, true);
  cases.push([
    "60000 entries claimed",
    manyEntries,
    /60000 entries do not fit a \d+-byte central directory/,
  ]);
  const zip64Lie = good.slice();
  new DataView(zip64Lie.buffer).setUint32(eocd + 16, 0xffffffff, true);
  cases.push(["zip64 fields without a locator", zip64Lie, /zip64 fields without a zip64 locator/]);
  // Edits of one field of the first central directory entry (or its local header).
  const directory = new DataView(good.buffer).getUint32(eocd + 16, true);
  const edited = (what: string, edit: (view: DataView) => void, expected: RegExp) => {
    const bytes = good.slice();
    edit(new DataView(bytes.buffer));
    cases.push([what, bytes, expected]);
  };
  edited("multi-disk", (v) => v.setUint16(eocd + 4, 1, true), /multi-disk archives/);
  edited("a bad entry signature", (v) => v.setUint32(directory, 0, true), /entry 0 is malformed/);
  edited(
    "a name that is not UTF-8",
    (v) => v.setUint8(directory + 46, 0xff),
    /entry 0 has a name that is not UTF-8/,
  );
  edited(
    "a zip64 size without its extra field",
    (v) => v.setUint32(directory + 20, 0xffffffff, true),
    /entry "archive\/data\.pkl" needs a zip64 extra field and has none/,
  );
  edited(
    "no local header",
    (v) => {
      // The second record's local header: the next "PK\x03\x04" after the first.
      const second = good.findIndex((b, k) =>
        k > 0 && b === 0x50 && good[k + 1] === 0x4b && good[k + 2] === 3 && good[k + 3] === 4
      );
      v.setUint32(second, 0, true);
    },
    /entry "archive\/data\/0" has no local header/,
  );
  edited(
    "stored sizes that differ",
    (v) => v.setUint32(directory + 24, 7, true),
    /stored entry "archive\/data\.pkl" has \d+ bytes but claims 7/,
  );
  cases.push([
    "a byte order that is neither",
    torchArchive(stateDictPickle([{ name: "w", key: "0", numel: 1, shape: [] }]), {
      "0": f32le([1]),
    }, { byteorder: "middle" }),
    /byteorder record says "middle", not little or big/,
  ]);
  for (const [what, bytes, expected] of cases) {
    assert.match(await refusal(bytes), expected, what);
  }
  // Every truncation of a real checkpoint is a one-line error.
  const real = await Deno.readFile(`${CHECKPOINTS}repmlpnet.deploy.pth`);
  for (let cut = 1; cut < 40; cut++) {
    await refusal(real.subarray(0, Math.floor(real.length * cut / 40)));
  }
});

Deno.test("a 300 MB data.pkl is refused before it is read", async () => {
  // A sparse file: the record's bytes are a hole, only the headers are written.
  const size = 300 * 2 ** 20;
  const zip = zipStored([{ name: "a/data.pkl", data: new Uint8Array(0) }]);
  const view = new DataView(zip.buffer);
  const central = view.getUint32(zip.length - 6, true);
  for (const at of [18, 22]) view.setUint32(at, size, true); // local header sizes
  for (const at of [central + 20, central + 24]) view.setUint32(at, size, true);
  view.setUint32(central + 16, 0, true); // the CRC of nothing would be checked only on read
  view.setUint32(zip.length - 6, central + size, true); // the directory moved past the hole
  const path = await Deno.makeTempFile({ suffix: ".pth" });
  try {
    using file = await Deno.open(path, { write: true });
    await file.write(zip.subarray(0, central));
    await file.seek(size, Deno.SeekMode.Current);
    await file.write(zip.subarray(central));
    await assert.rejects(() => openCheckpoint(path), {
      message: `${path}: data.pkl of ${size} bytes is over the ${256 * 2 ** 20} limit`,
    });
  } finally {
    await Deno.remove(path);
  }
});
