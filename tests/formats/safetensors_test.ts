import assert from "node:assert/strict";
import { uniform } from "../../ir/mod.ts";
import {
  encodeSafetensors,
  MAX_HEADER_BYTES,
  openSafetensors,
  parseSafetensors,
  readSafetensors,
  writeSafetensors,
} from "../../formats/safetensors.ts";
import {
  assertRefoldError,
  f32Bytes,
  rawSafetensors,
  tempDir,
  u16Bytes,
  withHeader,
} from "./_helpers.ts";

const FIXTURES = new URL("../fixtures/formats/torch_small/", import.meta.url);

const tensors = [
  { name: "conv.weight", shape: [3, 2, 3, 3], data: uniform(54, 1) },
  { name: "odd", shape: [5], data: uniform(5, 2) },
  { name: "scalar", shape: [], data: Float32Array.of(-0.25) },
  { name: "empty", shape: [0, 4], data: new Float32Array(0) },
];

Deno.test("safetensors: encode then parse gives back names, shapes, values and metadata", async () => {
  const bytes = encodeSafetensors(tensors, { metadata: { producer: "test" } });
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(headerLength % 8, 0, "the data section must start 8-byte aligned");
  const reader = parseSafetensors(bytes, { file: "t.safetensors" });
  assert.deepEqual(reader.metadata, { producer: "test" });
  assert.deepEqual([...reader.tensors.keys()], tensors.map((t) => t.name));
  for (const { name, shape, data } of tensors) {
    assert.deepEqual(reader.tensors.get(name)!.shape, shape);
    assert.deepEqual(await reader.read(name), data);
  }
});

Deno.test("safetensors: writeSafetensors streams a file that openSafetensors reads lazily", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const path = `${dir}/w.safetensors`;
    await writeSafetensors(path, tensors);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["w.safetensors"]);
    assert.deepEqual(await Deno.readFile(path), encodeSafetensors(tensors));
    const reader = await openSafetensors(path, { label: "w.safetensors" });
    // Out of header order, and twice: reads seek, they do not stream.
    assert.deepEqual(await reader.read("odd"), tensors[1].data);
    assert.deepEqual(await reader.read("conv.weight"), tensors[0].data);
    assert.deepEqual(await reader.read("odd"), tensors[1].data);
    reader.close();
    await assertRefoldError(
      () => reader.read("odd"),
      'w.safetensors: tensor "odd" read after close',
    );
    const all = await readSafetensors(path);
    assert.deepEqual([...all.keys()], tensors.map((t) => t.name));
  } finally {
    await cleanup();
  }
});

Deno.test("safetensors: F16, BF16 and F64 become float32; integer tensors are listed but not read", async () => {
  // F16: 1, -2, 65504 (max), 2^-24 (smallest subnormal), -0, inf. BF16: 1, pi rounded, -inf.
  const bytes = rawSafetensors([
    {
      name: "h",
      dtype: "F16",
      shape: [2, 3],
      bytes: u16Bytes([0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00]),
    },
    { name: "b", dtype: "BF16", shape: [3], bytes: u16Bytes([0x3f80, 0x4049, 0xff80]) },
    {
      name: "d",
      dtype: "F64",
      shape: [2],
      bytes: new Uint8Array(Float64Array.of(0.1, -1e300).buffer),
    },
    { name: "steps", dtype: "I64", shape: [], bytes: new Uint8Array(8) },
  ]);
  const reader = parseSafetensors(bytes, { file: "mixed.safetensors" });
  assert.deepEqual([...await reader.read("h")], [1, -2, 65504, 2 ** -24, -0, Infinity]);
  assert.deepEqual([...await reader.read("b")], [1, 3.140625, -Infinity]);
  assert.deepEqual([...await reader.read("d")], [Math.fround(0.1), -Infinity]);
  assert.equal(reader.tensors.get("steps")!.dtype, "I64");
  await assertRefoldError(
    () => reader.read("steps"),
    'mixed.safetensors: tensor "steps" has dtype I64; refold reads F32, F16, BF16, F64',
  );
  await assertRefoldError(() => reader.read("nope"), 'mixed.safetensors: no tensor "nope"');
});

Deno.test("safetensors: PyTorch F16/BF16/F64 tensors read as torch's float() does", async () => {
  const all = await readSafetensors(new URL("halves.safetensors", FIXTURES).pathname);
  const expected: Record<string, number[]> = JSON.parse(
    await Deno.readTextFile(new URL("halves.json", FIXTURES)),
  );
  assert.deepEqual(
    [...all.keys()].sort(),
    ["w_bf16", "w_f16", "w_f64"],
    "the I64 tensor is skipped",
  );
  for (const [name, values] of Object.entries(expected)) {
    assert.deepEqual([...all.get(name)!.data], values, name);
  }
});

const F = "bad.safetensors";
const ok = { name: "w", dtype: "F32", shape: [2], bytes: f32Bytes([1, 2]) };

Deno.test("safetensors: malformed files are refused before any data is allocated", async () => {
  const header = (length: bigint, rest = 0) => {
    const bytes = new Uint8Array(8 + rest);
    new DataView(bytes.buffer).setBigUint64(0, length, true);
    return bytes;
  };
  const cases: [Uint8Array, string][] = [
    [new Uint8Array(5), "file is 5 bytes; a safetensors file starts with an 8-byte header length"],
    [
      header(1000n, 16),
      "header length prefix exceeds the 16 bytes after it (truncated or not a safetensors file)",
    ],
    [
      header(2n ** 60n, 16),
      "header length prefix exceeds the 16 bytes after it (truncated or not a safetensors file)",
    ],
    [
      withHeader('{"w": {"dtype": "F32",', new Uint8Array(0)),
      "header is not valid JSON (line 1, column 25): expected a property name in double quotes",
    ],
    [withHeader("[1, 2]", new Uint8Array(0)), "header must be a JSON object"],
    [
      rawSafetensors([{ ...ok, dtype: "F33" }]),
      'tensor "w": unknown dtype "F33"',
    ],
    [
      rawSafetensors([ok], (h) => (h.w as { shape: number[] }).shape = [3]),
      'tensor "w": holds 8 bytes, but F32[3] needs 12',
    ],
    [
      rawSafetensors([ok]).subarray(0, -4),
      'tensor "w": data_offsets [0,8] reach past the end of the data (4 bytes); the file is truncated',
    ],
    [
      rawSafetensors([ok], (h) => {
        h.w = { dtype: "F32", shape: [65536, 65536], data_offsets: [0, 8] };
      }),
      'tensor "w": shape [65536,65536] has 4294967296 elements, more than 2^30',
    ],
    [
      rawSafetensors([ok], (h) => {
        h.w = { dtype: "F32", shape: [-1], data_offsets: [0, 8] };
      }),
      'tensor "w": shape must be an array of integers >= 0',
    ],
    [
      rawSafetensors([ok], (h) => (h.__metadata__ = { epoch: 3 })),
      "__metadata__ must map strings to strings",
    ],
  ];
  for (const [bytes, expected] of cases) {
    await assertRefoldError(() => parseSafetensors(bytes, { file: F }), `${F}: ${expected}`);
  }
  // Overlapping ranges: both tensors named.
  const overlapping = withHeader(
    JSON.stringify({
      a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
      b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
    }),
    new Uint8Array(12),
  );
  await assertRefoldError(
    () => parseSafetensors(overlapping, { file: F }),
    `${F}: tensors "a" and "b" overlap (bytes [0,8) and [4,12))`,
  );
  // Several problems come in one line.
  const several = rawSafetensors([ok, { ...ok, name: "v" }], (h) => {
    (h.w as { dtype: string }).dtype = "Q8";
    (h.v as { shape: number[] }).shape = [9];
  });
  await assertRefoldError(
    () => parseSafetensors(several, { file: F }),
    `${F}: tensor "w": unknown dtype "Q8"; tensor "v": holds 8 bytes, but F32[9] needs 36`,
  );
  assert.ok(MAX_HEADER_BYTES === 100 * 2 ** 20);
});

Deno.test("safetensors: a header over 100 MiB is refused without reading it", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    // A sparse 101 MiB file: the length field says the header fills it.
    const path = `${dir}/huge.safetensors`;
    const file = await Deno.open(path, { write: true, create: true });
    const length = new Uint8Array(8);
    new DataView(length.buffer).setBigUint64(0, BigInt(MAX_HEADER_BYTES + 8), true);
    await file.write(length);
    await file.truncate(MAX_HEADER_BYTES + 64);
    file.close();
    await assertRefoldError(
      () => openSafetensors(path),
      `<dir>/huge.safetensors: header length is over the 104857600 byte limit`,
      dir,
    );
    await assertRefoldError(
      () => openSafetensors(`${dir}/missing.safetensors`, { label: "missing.safetensors" }),
      "missing.safetensors: cannot open: no such file",
    );
  } finally {
    await cleanup();
  }
});

Deno.test("safetensors: the writer refuses duplicate names and data that does not fit the shape", async () => {
  await assertRefoldError(
    () => encodeSafetensors([tensors[1], tensors[1]]),
    'cannot write tensor "odd": the name is taken',
  );
  await assertRefoldError(
    () => encodeSafetensors([{ name: "x", shape: [2, 2], data: new Float32Array(3) }]),
    'cannot write tensor "x": 3 values do not fit shape [2,2]',
  );
  const { dir, cleanup } = await tempDir();
  try {
    await assertRefoldError(
      () => writeSafetensors(`${dir}/x.safetensors`, [tensors[1], tensors[1]]),
      'cannot write tensor "odd": the name is taken',
    );
    assert.deepEqual([...Deno.readDirSync(dir)], [], "no partial output");
  } finally {
    await cleanup();
  }
});
