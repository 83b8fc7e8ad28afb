/**
 * Malformed model.json and safetensors input: each case checks the whole
 * one-line message (file, JSON path or node, problem). `<dir>` stands for the
 * temporary folder the files are in.
 */
import assert from "node:assert/strict";
import { printGraph } from "../../ir/mod.ts";
import { loadModel, ModelError } from "../../formats/model_json/mod.ts";
import {
  assertRefoldError,
  f32Bytes,
  rawSafetensors,
  tempDir,
  u16Bytes,
  withHeader,
} from "./_helpers.ts";

type Doc = Record<string, unknown> & {
  inputs: Record<string, unknown>[];
  nodes: Record<string, unknown>[];
  outputs: unknown[];
  weights: Record<string, unknown>;
};

const base = (): Doc => ({
  format: "refold-model",
  version: 1,
  name: "tiny",
  inputs: [{ name: "x", shape: ["N", 2, 4, 4] }],
  nodes: [
    { name: "conv", op: "conv2d", inputs: ["x", "conv.weight"], attrs: { pads: 1 } },
    { name: "relu", op: "relu", inputs: ["conv"] },
    { name: "pool", op: "global_avgpool", inputs: ["relu"] },
  ],
  outputs: [{ name: "y", node: "pool" }],
  weights: { file: "model.safetensors" },
});

const kernel = Array.from({ length: 54 }, (_, i) => (i % 7) / 7 - 0.5);
const withNaN = kernel.map((v, i) => (i === 17 ? NaN : v));

function weightsFile(): Uint8Array {
  return rawSafetensors([
    { name: "bn.num_batches_tracked", dtype: "I64", shape: [], bytes: new Uint8Array(8) },
    { name: "conv.weight", dtype: "F32", shape: [3, 2, 3, 3], bytes: f32Bytes(kernel) },
    {
      name: "half.weight",
      dtype: "F16",
      shape: [3, 2, 3, 3],
      bytes: u16Bytes(new Array(54).fill(0x3800)),
    },
    {
      name: "small.weight",
      dtype: "F32",
      shape: [3, 1, 3, 3],
      bytes: f32Bytes(kernel.slice(0, 27)),
    },
    { name: "nan.weight", dtype: "F32", shape: [3, 2, 3, 3], bytes: f32Bytes(withNaN) },
  ]);
}

/** Each case: how to break the base document (or the text itself), and the message after `<dir>/model.json: `. */
const CASES: [string, (doc: Doc) => Doc | string, string][] = [
  [
    "malformed JSON",
    () => '{\n  "format": "refold-model",\n  "version": 1,\n}',
    "malformed JSON at line 4, column 1: trailing comma",
  ],
  [
    "malformed JSON: unquoted key",
    () => '{"format": "refold-model", version: 1}',
    'malformed JSON at line 1, column 28: expected a property name in double quotes, found "v"',
  ],
  [
    "wrong format tag",
    (d) => ({ ...d, format: "onnx" }),
    '$.format: must be "refold-model", got "onnx"',
  ],
  ["unsupported version", (d) => ({ ...d, version: 2 }), "$.version: must be 1, got 2"],
  [
    "f16 input (every backend takes float32 inputs)",
    (d) => (d.inputs[0].dtype = "f16", d),
    '$.inputs[0].dtype: must be one of "f32", got "f16"',
  ],
  [
    "wrong type: integer attribute",
    (d) => (d.nodes[0].attrs = { groups: 0 }, d),
    "$.nodes[0].attrs.groups: must be an integer >= 1, got 0",
  ],
  [
    "wrong type: pair attribute",
    (d) => (d.nodes[0].attrs = { stride: "2" }, d),
    '$.nodes[0].attrs.stride: must be an integer >= 1 or an array of 2 items, each an integer >= 1, got "2"',
  ],
  [
    "wrong element of a pair",
    (d) => (d.nodes[0].attrs = { stride: [1, 0] }, d),
    "$.nodes[0].attrs.stride[1]: must be an integer >= 1, got 0",
  ],
  [
    "wrong length of a pair",
    (d) => (d.nodes[0].attrs = { dilation: [1] }, d),
    "$.nodes[0].attrs.dilation: must have exactly 2 items, got 1",
  ],
  [
    "wrong type: inputs",
    (d) => ({ ...d, inputs: { x: [1, 2] } as unknown as Doc["inputs"] }),
    '$.inputs: must be an array, each an object, got {"x":[1,2]}',
  ],
  [
    "unknown op",
    (d) => (d.nodes[1].op = "conv3d", d),
    '$.nodes[1].op: must be one of "conv2d", "batchnorm", "linear", "reshape", "transpose", "flatten", ' +
    '"concat", "add", "sub", "mul", "div", "relu", "sigmoid", "gelu", "erf", "avgpool", "maxpool", ' +
    '"global_avgpool", got "conv3d"',
  ],
  [
    "unknown attribute",
    (d) => (d.nodes[0].attrs = { strides: 2 }, d),
    "$.nodes[0].attrs.strides: unknown property (expected stride, pads, dilation, groups)",
  ],
  [
    "attribute on an op without any",
    (d) => (d.nodes[1].attrs = { inplace: true }, d),
    "$.nodes[1].attrs.inplace: unknown property (takes none)",
  ],
  ["missing op", (d) => (delete d.nodes[1].op, d), '$.nodes[1]: missing required property "op"'],
  [
    "wrong number of inputs",
    (d) => (d.nodes[1].inputs = ["conv", "x"], d),
    "$.nodes[1].inputs: must have exactly 1 item, got 2",
  ],
  [
    "several problems at once",
    (d) => (d.nodes[0].attrs = { groups: 0 }, d.nodes[2].op = "pool", d),
    '$.nodes[0].attrs.groups: must be an integer >= 1, got 0; $.nodes[2].op: must be one of "conv2d", ' +
    '"batchnorm", "linear", "reshape", "transpose", "flatten", "concat", "add", "sub", "mul", "div", ' +
    '"relu", "sigmoid", "gelu", "erf", "avgpool", "maxpool", "global_avgpool", got "pool"',
  ],
  [
    "unknown input reference (typo)",
    (d) => (d.nodes[0].inputs = ["x", "conv.wieght"], d),
    '$.nodes[0].inputs[1]: unknown name "conv.wieght": not an input, a node or an inline tensor, ' +
    'nor a tensor in <dir>/model.safetensors (did you mean "conv.weight"?)',
  ],
  [
    "unknown output reference",
    (d) => ({ ...d, outputs: ["poool"] }),
    '$.outputs[0]: unknown name "poool": not an input, a node or an inline tensor, nor a tensor in ' +
    '<dir>/model.safetensors (did you mean "pool"?)',
  ],
  [
    "forward reference",
    (d) => {
      d.nodes.push({ name: "act", op: "relu", inputs: ["x"] });
      d.nodes[0].inputs = ["act", "conv.weight"];
      return d;
    },
    '$.nodes[0].inputs[0]: "act" is defined later, at $.nodes[3]; a node may only use earlier nodes',
  ],
  [
    "cycle",
    (d) => (d.nodes[1].inputs = ["pool"], d),
    '$.nodes[1].inputs[0]: "pool" is part of a cycle: "relu" -> "pool" -> "relu"',
  ],
  [
    "self reference",
    (d) => (d.nodes[1].inputs = ["relu"], d),
    '$.nodes[1].inputs[0]: "relu" is part of a cycle: "relu" -> "relu"',
  ],
  [
    "duplicate node name",
    (d) => (d.nodes[2].name = "conv", d),
    '$.nodes[2].name: "conv" is already declared at $.nodes[0]',
  ],
  [
    "node named like an input",
    (d) => (d.nodes[1].name = "x", d.nodes[2].inputs = ["x"], d),
    '$.nodes[1].name: "x" is already declared at $.inputs[0]',
  ],
  [
    "node named like a tensor",
    (d) => (d.nodes[1].name = "small.weight", d.nodes[2].inputs = ["small.weight"], d),
    '$.nodes[1]: name "small.weight" is also a tensor in <dir>/model.safetensors',
  ],
  [
    "weight reference without a weights file",
    (d) => (delete (d as Record<string, unknown>).weights, d),
    '$.nodes[0].inputs[1]: unknown name "conv.weight": not an input, a node or an inline tensor, ' +
    "and the model has no weights file",
  ],
  [
    "duplicate output name",
    (d) => ({ ...d, outputs: [{ name: "y", node: "pool" }, { name: "y", node: "relu" }] }),
    '$.outputs[1]: output "y" is already declared at $.outputs[0]',
  ],
  [
    "missing weights file",
    (d) => (d.weights.file = "nope.safetensors", d),
    "$.weights.file: cannot open <dir>/nope.safetensors: no such file",
  ],
  [
    "absolute weights path",
    (d) => (d.weights.file = "/etc/model.safetensors", d),
    "$.weights.file: must be a path relative to the model file",
  ],
  [
    "missing tensor",
    (d) => (d.nodes[0].inputs = ["x", "fc.weight"], d),
    '$.nodes[0].inputs[1]: unknown name "fc.weight": not an input, a node or an inline tensor, nor a ' +
    "tensor in <dir>/model.safetensors",
  ],
  [
    "tensor shape does not fit the node",
    (d) => (d.nodes[0].inputs = ["x", "small.weight"], d),
    'node "conv" ($.nodes[0]): conv2d {dilation=[1,1], groups=1, pads=[1,1,1,1], stride=[1,1]}' +
    "(f32[1,2,4,4], f32[3,1,3,3]): kernel has 1 input channels per group, input gives 2",
  ],
  [
    "unsupported dtype referenced",
    (d) => (d.nodes[0].inputs = ["x", "bn.num_batches_tracked"], d),
    '$.nodes[0].inputs[1]: tensor "bn.num_batches_tracked" in <dir>/model.safetensors has dtype I64; ' +
    "refold reads F32, F16, BF16, F64",
  ],
  [
    "absurd input size",
    (d) => (d.inputs[0].shape = ["N", 1073741824, 2, 1], d),
    "$.inputs[0].shape: has 2147483648 elements, more than 2^30",
  ],
  [
    "absurd dimension",
    (d) => (d.inputs[0].shape = ["N", 2e9, 2, 1], d),
    "$.inputs[0].shape[1]: must be an integer >= 1 and <= 1073741824, got 2000000000",
  ],
  [
    "batch dimension not first",
    (d) => (d.inputs[0].shape = [1, "N", 4, 4], d),
    '$.inputs[0].shape[1]: must be an integer >= 1 and <= 1073741824, got "N"',
  ],
  [
    "inline tensor shorter than its shape (no allocation)",
    (d) => ({ ...d, weights: { inline: { w: { shape: [1000000000], data: [1] } } } }),
    "$.weights.inline.w.data: has 1 values, shape [1000000000] needs 1000000000",
  ],
  [
    "inline tensor shadowing a file tensor",
    (d) => {
      d.weights.inline = { "conv.weight": { shape: [1], data: [0] } };
      return d;
    },
    '$.weights.inline["conv.weight"]: inline tensor "conv.weight" is also a tensor in <dir>/model.safetensors',
  ],
  [
    "inline value overflowing float32",
    (d) => {
      d.nodes[0].inputs = ["x", "w"];
      return {
        ...d,
        weights: { inline: { w: { shape: [3, 2, 1, 1], data: [1, 2, 3, 1e39, 5, 6] } } },
      };
    },
    '$.weights.inline.w: tensor "w": value at [1,1,0,0] (flat index 3) is Infinity',
  ],
];

Deno.test("model.json errors: the base model loads, also from F16 weights", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await Deno.writeFile(`${dir}/model.safetensors`, weightsFile());
    await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(base()));
    const graph = await loadModel(`${dir}/model.json`, { batch: 2 });
    assert.match(printGraph(graph), /conv2d\(%0, %1\) .* : f32\[2,3,4,4\]/);
    const half = base();
    half.nodes[0].inputs = ["x", "half.weight"];
    await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(half));
    const data = (await loadModel(`${dir}/model.json`)).outputs[0].node.inputs[0].inputs[0]
      .inputs[1].data!;
    assert.deepEqual([...data], new Array(54).fill(0.5));
  } finally {
    await cleanup();
  }
});

for (const [name, edit, expected] of CASES) {
  Deno.test(`model.json errors: ${name}`, async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await Deno.writeFile(`${dir}/model.safetensors`, weightsFile());
      const doc = edit(base());
      await Deno.writeTextFile(
        `${dir}/model.json`,
        typeof doc === "string" ? doc : JSON.stringify(doc, null, 2),
      );
      await assertRefoldError(
        () => loadModel(`${dir}/model.json`),
        `<dir>/model.json: ${expected}`,
        dir,
      );
    } finally {
      await cleanup();
    }
  });
}

Deno.test("model.json errors: problems in the weights file name that file", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(base()));
    const load = () => loadModel(`${dir}/model.json`);
    const cases: [Uint8Array, string][] = [
      [
        weightsFile().subarray(0, -100),
        '<dir>/model.safetensors: tensor "nan.weight": data_offsets [440,656] reach past the end of ' +
        "the data (556 bytes); the file is truncated",
      ],
      [
        withHeader("{nope", new Uint8Array(0)),
        "<dir>/model.safetensors: header is not valid JSON (line 1, column 2): expected a property " +
        "name in double quotes",
      ],
      [
        new Uint8Array(3),
        "<dir>/model.safetensors: file is 3 bytes; a safetensors file starts with an 8-byte header length",
      ],
      [
        // An unreadable dtype is reported where the model uses the tensor.
        rawSafetensors([
          { name: "conv.weight", dtype: "F8_E4M3", shape: [3, 2, 3, 3], bytes: new Uint8Array(54) },
        ]),
        '<dir>/model.json: $.nodes[0].inputs[1]: tensor "conv.weight" in <dir>/model.safetensors has ' +
        "dtype F8_E4M3; refold reads F32, F16, BF16, F64",
      ],
    ];
    for (const [bytes, expected] of cases) {
      await Deno.writeFile(`${dir}/model.safetensors`, bytes);
      await assertRefoldError(load, expected, dir);
    }
    // NaN: the tensor and the index of the bad value.
    await Deno.writeFile(`${dir}/model.safetensors`, weightsFile());
    const nan = base();
    nan.nodes[0].inputs = ["x", "nan.weight"];
    await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(nan));
    await assertRefoldError(
      load,
      '<dir>/model.safetensors: tensor "nan.weight": value at [0,1,2,2] (flat index 17) is NaN',
      dir,
    );
  } finally {
    await cleanup();
  }
});

Deno.test("model.json errors: unreadable model files and bad options", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await assertRefoldError(
      () => loadModel(`${dir}/missing.json`),
      "<dir>/missing.json: cannot read: no such file",
      dir,
    );
    // A sparse 65 MiB file: refused from its size, never read.
    const big = await Deno.open(`${dir}/big.json`, { write: true, create: true });
    await big.truncate(65 * 2 ** 20);
    big.close();
    await assertRefoldError(
      () => loadModel(`${dir}/big.json`),
      "<dir>/big.json: is 68157440 bytes, over the 67108864 byte limit (large weights belong in safetensors)",
      dir,
    );
    await Deno.writeFile(`${dir}/model.safetensors`, weightsFile());
    await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(base()));
    await assertRefoldError(
      () => loadModel(`${dir}/model.json`, { batch: 0 }),
      "<dir>/model.json: batch must be a positive integer, got 0",
      dir,
    );
    await assertRefoldError(
      () => loadModel(`${dir}/model.json`, { batch: 2 ** 27 }),
      '<dir>/model.json: input "x" ($.inputs[0]): input {dtype="f32", name="x", shape=[134217728,2,4,4]}(): ' +
        "shape must be positive integers totalling at most 2^30 elements",
      dir,
    );
    // Every problem stays available to tools, beyond the few the message shows.
    const many = base();
    many.nodes.forEach((node) => (node.attrs = { bogus: 1 }));
    await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(many));
    const error = await loadModel(`${dir}/model.json`).catch((e) => e);
    assert.ok(error instanceof ModelError);
    assert.equal(error.problems.length, 3);
  } finally {
    await cleanup();
  }
});
