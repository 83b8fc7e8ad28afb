import assert from "node:assert/strict";
import {
  type Graph,
  GraphBuilder,
  interpret,
  OP_NAMES,
  OPS,
  printGraph,
  topoOrder,
  uniform,
} from "../../ir/mod.ts";
import { loadModel, MODEL_SCHEMA, parseModel, writeModel } from "../../formats/model_json/mod.ts";
import { attrsSchema } from "../../formats/model_json/schema.ts";
import { assertClose } from "../_assert.ts";
import { randomGraph } from "./_random_graph.ts";
import { assertRefoldError, tempDir } from "./_helpers.ts";

const TORCH = new URL("../fixtures/formats/torch_small/", import.meta.url).pathname;

function weightsOf(graph: Graph): Map<string, Float32Array> {
  return new Map(
    topoOrder(graph).filter((node) => node.op === "weight").map((node) => [
      (node.attrs as { name: string }).name,
      node.data!,
    ]),
  );
}

const listDir = (dir: string) => [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();

Deno.test("model.json: random graphs over every op round-trip through writeModel and loadModel", async () => {
  const { dir, cleanup } = await tempDir();
  const opsSeen = new Set<string>();
  try {
    for (let seed = 0; seed < 48; seed++) {
      const graph = randomGraph(seed);
      for (const node of topoOrder(graph)) opsSeen.add(node.op);
      const inline = seed % 2 === 0;
      const path = `${dir}/s${seed}/model.json`;
      await Deno.mkdir(`${dir}/s${seed}`);
      await writeModel(graph, path, { inlineLimitBytes: inline ? Infinity : 0 });
      assert.deepEqual(
        listDir(`${dir}/s${seed}`),
        inline ? ["model.json"] : ["model.json", "model.safetensors"],
      );
      const loaded = await loadModel(path, { batch: graph.inputs[0].type.shape[0] });
      assert.equal(printGraph(loaded), printGraph(graph), `seed ${seed}`);
      assert.deepEqual(weightsOf(loaded), weightsOf(graph), `seed ${seed} weights`);
    }
  } finally {
    await cleanup();
  }
  assert.deepEqual([...opsSeen].sort(), [...OP_NAMES].sort(), "the random graphs cover every op");
});

Deno.test("model.json: a PyTorch state_dict saved as safetensors loads and matches torch's output", async () => {
  const graph = await loadModel(`${TORCH}model.json`, { batch: 2 });
  const expected = JSON.parse(await Deno.readTextFile(`${TORCH}expected.json`));
  const count = 2 * 4 * 8 * 8;
  const x = Float32Array.from({ length: count }, (_, i) => -2 + (4 * i) / (count - 1));
  assertClose(interpret(graph, { x }).y, expected.y, 1e-6, "torch_small output");
  // Omitted attributes took PyTorch's defaults; the I64 num_batches_tracked was skipped.
  const printed = printGraph(graph);
  assert.match(
    printed,
    /conv2d\(%0, %1\) \{dilation=\[1,1\], groups=2, pads=\[1,1,1,1\], stride=\[1,1\]\}/,
  );
  assert.match(printed, /batchnorm\(.*\) \{axis=1, epsilon=0.00001\}/);
  assert.match(
    printed,
    /avgpool\(%8\) \{countIncludePad=true, kernel=\[2,2\], pads=\[0,0,0,0\], stride=\[2,2\]\}/,
  );
  assert.match(printed, /flatten\(%9\) \{axis=1\} : f32\[2,96\]/);
});

const tinyDoc = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    format: "refold-model",
    version: 1,
    name: "tiny",
    inputs: [{ name: "x", shape: ["N", 2, 4, 4] }],
    nodes: [
      { name: "conv", op: "conv2d", inputs: ["x", "w"], attrs: { stride: 2, pads: 1 } },
      { name: "pool", op: "maxpool", inputs: ["conv"], attrs: { kernel: [2, 1] } },
      { name: "flat", op: "reshape", inputs: ["pool"], attrs: { shape: ["N", -1] } },
    ],
    outputs: ["flat", { name: "conv_out", node: "conv" }],
    weights: { inline: { w: { shape: [3, 2, 1, 1], data: [1, 2, 3, 4, 5, 6] } } },
    ...extra,
  });

Deno.test("model.json: shorthands, defaults and the batch dimension", () => {
  const b = new GraphBuilder("tiny");
  const x = b.input("x", [3, 2, 4, 4]);
  const conv = b.conv2d(
    x,
    b.weight("w", [3, 2, 1, 1], Float32Array.of(1, 2, 3, 4, 5, 6)),
    undefined,
    {
      stride: 2,
      padding: 1,
    },
  );
  const pool = b.maxpool(conv, [2, 1]);
  b.output("flat", b.reshape(pool, [3, -1]));
  b.output("conv_out", conv);
  const parsed = parseModel(tinyDoc(), { file: "tiny.json", batch: 3 });
  assert.equal(printGraph(parsed), printGraph(b.build()));
  assert.deepEqual(parseModel(tinyDoc(), { file: "tiny.json" }).inputs[0].type.shape, [1, 2, 4, 4]);
});

Deno.test("model.json: parseModel takes file-backed weights from a map", () => {
  const text = tinyDoc({ weights: { file: "tiny.safetensors" } });
  const weights = new Map([["w", { shape: [3, 2, 1, 1], data: uniform(6, 3) }]]);
  const graph = parseModel(text, { file: "tiny.json", weights });
  assert.deepEqual(weightsOf(graph).get("w"), weights.get("w")!.data);
});

Deno.test("model.json: symbolicBatch writes N and refuses graphs that bake in the batch", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const graph = parseModel(tinyDoc(), { file: "tiny.json", batch: 2 });
    await writeModel(graph, `${dir}/model.json`, { symbolicBatch: true });
    const text = await Deno.readTextFile(`${dir}/model.json`);
    assert.match(text, /"shape": \["N", 2, 4, 4\]/);
    const at5 = await loadModel(`${dir}/model.json`, { batch: 5 });
    assert.deepEqual(at5.outputs.map((o) => o.node.type.shape), [[5, 9], [5, 3, 3, 3]]);

    const b = new GraphBuilder("baked");
    b.output("y", b.reshape(b.input("x", [2, 3]), [3, -1]));
    await assertRefoldError(
      () => writeModel(b.build(), `${dir}/baked.json`, { symbolicBatch: true }),
      '<dir>/baked.json: cannot write with symbolicBatch: output "y" is [3,2] at batch 2 but [3,3] at batch 3; the graph bakes in its batch size',
      dir,
    );
    assert.deepEqual(listDir(dir), ["model.json"], "nothing written for the refused graph");
  } finally {
    await cleanup();
  }
});

Deno.test("model.json: generated node names avoid input and weight names", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const b = new GraphBuilder("clash");
    const x = b.input("relu_0", [1, 4]);
    const r = b.relu(b.add(x, b.weight("add_0", [4], uniform(4, 1))));
    b.output("relu_0_out", b.relu(r));
    const graph = b.build();
    await writeModel(graph, `${dir}/m.json`);
    assert.deepEqual(listDir(dir), ["m.json"], "tiny weights go inline");
    const text = await Deno.readTextFile(`${dir}/m.json`);
    assert.match(text, /"name": "add_1", "op": "add", "inputs": \["relu_0", "add_0"\]/);
    assert.match(text, /"name": "relu_1", "op": "relu", "inputs": \["add_1"\]/);
    assert.equal(printGraph(await loadModel(`${dir}/m.json`)), printGraph(graph));
  } finally {
    await cleanup();
  }
});

Deno.test("model.json: the writer refuses two different weights with one name and leaves nothing", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const b = new GraphBuilder("dup");
    const x = b.input("x", [1, 4]);
    const w1 = b.weight("w", [4], uniform(4, 1));
    const w2 = new GraphBuilder().weight("w", [4], uniform(4, 2));
    b.output("y", b.add(b.add(x, w1), w2));
    await assertRefoldError(
      () => writeModel(b.build(), `${dir}/model.json`, { inlineLimitBytes: 0 }),
      '<dir>/model.json: cannot write: weight "w" and weight "w" are different nodes with one name',
      dir,
    );
    await assertRefoldError(
      () => writeModel(randomGraph(1), `${dir}/no/such/dir/model.json`, { inlineLimitBytes: 0 }),
      "<dir>/no/such/dir/model.json: cannot write: No such file or directory",
      dir,
    );
    assert.deepEqual(listDir(dir), []);
    await Deno.mkdir(`${dir}/model.safetensors`);
    await assertRefoldError(
      () => writeModel(randomGraph(1), `${dir}/model.json`, { inlineLimitBytes: 0 }),
      "<dir>/model.json: cannot write: <dir>/model.safetensors is a folder",
      dir,
    );
    assert.deepEqual(listDir(dir), ["model.safetensors"]);
  } finally {
    await cleanup();
  }
});

Deno.test("model.json: the schema agrees with the IR's op table", () => {
  const node =
    (MODEL_SCHEMA.$defs as Record<string, { properties: { op: { enum: string[] } } }>).node;
  const ops = OP_NAMES.filter((op) => op !== "input" && op !== "weight");
  assert.deepEqual([...node.properties.op.enum].sort(), [...ops].sort());
  for (let seed = 0; seed < 16; seed++) {
    for (const n of topoOrder(randomGraph(seed))) {
      if (n.op === "input" || n.op === "weight") continue;
      const properties = Object.keys(attrsSchema(n.op)!.properties as object).sort();
      assert.deepEqual(properties, Object.keys(n.attrs).sort(), `attrs of ${n.op}`);
    }
  }
  // Arity: each op's then-branch bounds its inputs as OPS does.
  for (const op of ops) {
    const [min, max] = OPS[op].arity;
    const doc = (count: number) =>
      JSON.stringify({
        format: "refold-model",
        version: 1,
        inputs: [{ name: "x", shape: [1, 2, 2, 2] }],
        nodes: [{ name: "n", op, inputs: new Array(count).fill("x"), attrs: {} }],
        outputs: ["n"],
      });
    for (const count of [min - 1, max + 1]) {
      if (count < 0 || !Number.isFinite(count)) continue;
      assert.throws(
        () => parseModel(doc(count), { file: "m.json" }),
        /must have .* items?, got/,
        `${op} with ${count}`,
      );
    }
  }
});

Deno.test("model.json: docs/model-format.md shows the fixture's model.json and the shipped schema", async () => {
  const doc = await Deno.readTextFile(new URL("../../docs/model-format.md", import.meta.url));
  const blocks = [...doc.matchAll(/```json\n([\s\S]*?)\n```/g)].map((match) =>
    JSON.parse(match[1])
  );
  assert.deepEqual(blocks[0], JSON.parse(await Deno.readTextFile(`${TORCH}model.json`)));
  assert.deepEqual(blocks[blocks.length - 1], MODEL_SCHEMA);
});
