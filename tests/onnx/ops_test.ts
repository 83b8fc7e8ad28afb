/**
 * Op mappings and opset differences, each checked against onnxruntime-web on
 * a hand-made model: the importer's IR, run by the reference interpreter,
 * must give what ONNX Runtime gives.
 */
import assert from "node:assert/strict";
import { importOnnx } from "../../formats/onnx/mod.ts";
import { DataType, type TensorProto } from "../../formats/onnx/proto.ts";
import { type Graph, interpret, sizeOf, summarize, uniform } from "../../ir/mod.ts";
import { assertClose } from "../_assert.ts";
import { floats, int64s, type NodeSpec, onnxModel, runOrt } from "./_helpers.ts";

type Spec = Parameters<typeof onnxModel>[0];

/** Imports `spec`, runs it in both the interpreter and ONNX Runtime, and compares. */
async function versusOrt(spec: Spec, what: string): Promise<Graph> {
  const bytes = onnxModel(spec);
  const feeds: Record<string, { data: Float32Array; shape: number[] }> = {};
  spec.inputs.forEach(([name, dims], i) => {
    const shape = dims as number[];
    feeds[name] = { data: uniform(sizeOf(shape), 100 + i, -2, 2), shape };
  });
  const graph = importOnnx(bytes, { file: `${what}.onnx` });
  const ours = interpret(
    graph,
    Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, v.data])),
  );
  const theirs = await runOrt(bytes, feeds);
  for (const name of spec.outputs) assertClose(ours[name], theirs[name], 1e-6, `${what}: ${name}`);
  return graph;
}

const node = (op: string, inputs: string[], outputs: string[], attrs?: NodeSpec["attrs"]) => ({
  op,
  inputs,
  outputs,
  attrs,
});
const random = (name: string, dims: number[], seed: number) =>
  floats(name, dims, uniform(sizeOf(dims), seed));

Deno.test("Gemm: transA, transB, alpha, beta and every kind of C", async () => {
  for (const [transA, transB] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
    for (const c of ["vector", "row", "matrix", "input", "none"]) {
      const a = transA ? [5, 3] : [3, 5], b = transB ? [4, 5] : [5, 4];
      const initializers = [random("B", b, 2)];
      const inputs: Spec["inputs"] = [["A", a]];
      if (c === "vector") initializers.push(random("C", [4], 3));
      if (c === "row") initializers.push(random("C", [1, 4], 3));
      if (c === "matrix") initializers.push(random("C", [3, 4], 3));
      if (c === "input") inputs.push(["C", [3, 1]]);
      const graph = await versusOrt({
        inputs,
        outputs: ["y"],
        initializers,
        nodes: [node("Gemm", c === "none" ? ["A", "B"] : ["A", "B", "C"], ["y"], {
          transA,
          transB,
          alpha: { f: 0.75 },
          beta: { f: c === "none" ? 1 : 1.5 },
        })],
      }, `gemm ${transA}${transB} ${c}`);
      assert.equal(summarize(graph).ops.linear, 1);
    }
  }
});

Deno.test("MatMul with a constant weight becomes linear, on any rank", async () => {
  for (const shape of [[7], [3, 7], [2, 3, 7]]) {
    const graph = await versusOrt({
      inputs: [["x", shape]],
      outputs: ["y"],
      initializers: [random("w", [7, 5], 4)],
      nodes: [node("MatMul", ["x", "w"], ["y"])],
    }, `matmul rank ${shape.length}`);
    assert.deepEqual(summarize(graph).ops, { linear: 1 });
  }
});

Deno.test("Conv: pads, auto_pad, strides, dilations, groups, bias", async () => {
  const cases: NodeSpec["attrs"][] = [
    { pads: [1, 2, 0, 1], strides: [2, 1] },
    { auto_pad: "SAME_UPPER", strides: [2, 2] },
    { auto_pad: "SAME_LOWER", strides: [2, 2] },
    { auto_pad: "VALID", dilations: [2, 1] },
    { group: 2, pads: [1, 1, 1, 1] },
  ];
  for (const attrs of cases) {
    const group = (attrs!.group as number | undefined) ?? 1;
    await versusOrt({
      inputs: [["x", [2, 4, 7, 6]]],
      outputs: ["y"],
      initializers: [random("w", [6, 4 / group, 3, 3], 5), random("b", [6], 6)],
      nodes: [node("Conv", ["x", "w", "b"], ["y"], attrs)],
    }, `conv ${JSON.stringify(attrs)}`);
  }
});

Deno.test("Pad: zeros vanish, zero padding folds into AveragePool and Conv", async () => {
  const padded = (opset: number, pads: number[], consumer: NodeSpec, axes = false) => ({
    opset,
    inputs: [["x", [1, 2, 6, 6]]] as Spec["inputs"],
    outputs: ["y"],
    initializers: [
      int64s("p", pads),
      floats("zero", [], [0]),
      random("w", [3, 2, 3, 3], 7),
      ...(axes ? [int64s("axes", [2, 3])] : []),
    ],
    nodes: [node("Pad", ["x", "p", "zero", ...(axes ? ["axes"] : [])], ["xp"]), consumer],
  });
  const pool = (attrs: NodeSpec["attrs"]) =>
    node("AveragePool", ["xp"], ["y"], { kernel_shape: [3, 3], ...attrs });
  const none = await versusOrt(
    padded(13, [0, 0, 0, 0, 0, 0, 0, 0], pool({ strides: [3, 3] })),
    "zero pad",
  );
  assert.deepEqual(summarize(none).ops, { avgpool: 1 });
  const folded = await versusOrt(
    padded(13, [0, 0, 1, 2, 0, 0, 2, 1], pool({ strides: [2, 2] })),
    "pad avgpool",
  );
  assert.deepEqual(summarize(folded).ops, { avgpool: 1 });
  await versusOrt(
    padded(11, [0, 0, 1, 0, 0, 0, 0, 1], pool({ pads: [1, 1, 1, 1], count_include_pad: 1 })),
    "pad avgpool padded",
  );
  await versusOrt(padded(18, [1, 1, 0, 1], pool({}), true), "pad with axes (opset 18)");
  const conv = await versusOrt(
    padded(17, [0, 0, 1, 1, 0, 0, 1, 1], node("Conv", ["xp", "w"], ["y"], { pads: [1, 0, 0, 1] })),
    "pad conv",
  );
  assert.deepEqual(summarize(conv).ops, { conv2d: 1 });
});

Deno.test("Pad after a bias-free 1x1 conv pads the conv; after a biased one it must fold later", async () => {
  // DBB's BNAndPad written bn(pad(conv1x1(x))): the 1x1 conv maps the zero border to zero.
  const spec = (bias: boolean, consumer: string) => ({
    inputs: [["x", [1, 2, 4, 5]]] as Spec["inputs"],
    outputs: ["y"],
    initializers: [
      random("w1", [3, 2, 1, 1], 11),
      random("b1", [3], 12),
      int64s("p", [0, 0, 1, 1, 0, 0, 1, 1]),
      floats("scale", [3], [1.5, 0.5, 2]),
      floats("shift", [3], [0.25, -1, 0.5]),
      floats("mean", [3], [0.1, 0.2, -0.3]),
      floats("var", [3], [1, 2, 0.5]),
      random("w2", [4, 3, 3, 3], 13),
    ],
    nodes: [
      node("Conv", bias ? ["x", "w1", "b1"] : ["x", "w1"], ["c"]),
      node("Pad", ["c", "p"], ["cp"]),
      consumer === "bn"
        ? node("BatchNormalization", ["cp", "scale", "shift", "mean", "var"], ["y"])
        : node("Conv", ["cp", "w2"], ["y"]),
    ],
  });
  const padded = await versusOrt(spec(false, "bn"), "pad after 1x1 conv");
  assert.deepEqual(summarize(padded).ops, { conv2d: 1, batchnorm: 1 });
  // With a bias the border would be the bias, not zero: the Pad waits for the next conv.
  const biased = await versusOrt(spec(true, "conv"), "pad after biased 1x1 conv");
  assert.deepEqual(summarize(biased).ops, { conv2d: 2 });
});

Deno.test("pools: AveragePool without count_include_pad, MaxPool, global, ReduceMean", async () => {
  const x: Spec["inputs"] = [["x", [2, 3, 7, 7]]];
  await versusOrt({
    inputs: x,
    outputs: ["y"],
    nodes: [
      node("AveragePool", ["x"], ["y"], {
        kernel_shape: [3, 3],
        pads: [1, 1, 1, 1],
        strides: [2, 2],
      }),
    ],
  }, "avgpool exclude pad");
  await versusOrt({
    inputs: x,
    outputs: ["y"],
    nodes: [
      node("MaxPool", ["x"], ["y"], { kernel_shape: [3, 2], pads: [1, 0, 1, 1], strides: [2, 2] }),
    ],
  }, "maxpool");
  const ceil = (size: number) => ({
    inputs: [["x", [1, 2, size, size]]] as Spec["inputs"],
    outputs: ["y"],
    nodes: [node("MaxPool", ["x"], ["y"], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 })],
  });
  await versusOrt(ceil(6), "maxpool ceil_mode where it changes nothing");
  await assert.rejects(() => versusOrt(ceil(7), "ceil"), /ceil_mode=1 changes the output size/);
  await versusOrt({
    inputs: x,
    outputs: ["y"],
    nodes: [node("GlobalAveragePool", ["x"], ["y"])],
  }, "global avgpool");
  await versusOrt({
    inputs: x,
    outputs: ["y"],
    nodes: [node("ReduceMean", ["x"], ["y"], { axes: [-1, -2], keepdims: 0 })],
  }, "reducemean keepdims 0");
  await versusOrt({
    opset: 18,
    inputs: x,
    outputs: ["y"],
    initializers: [int64s("axes", [2, 3])],
    nodes: [node("ReduceMean", ["x", "axes"], ["y"])],
  }, "reducemean axes input (opset 18)");
});

Deno.test("Squeeze and Unsqueeze: axes attribute before opset 13, input after", async () => {
  for (const opset of [11, 13, 17]) {
    const axes = (
      name: string,
      values: number[],
    ): { attrs: Record<string, number[]>; inputs: string[]; init?: TensorProto } =>
      opset < 13
        ? { attrs: { axes: values }, inputs: [] }
        : { attrs: {}, inputs: [name], init: int64s(name, values) };
    const u = axes("ua", [0, -1]), s = axes("sa", [0]);
    await versusOrt({
      opset,
      inputs: [["x", [3, 4]]],
      outputs: ["y"],
      initializers: [u, s].flatMap((a) => (a.init ? [a.init] : [])),
      nodes: [
        node("Unsqueeze", ["x", ...u.inputs], ["u"], u.attrs),
        node("Relu", ["u"], ["r"]),
        node("Squeeze", ["r", ...s.inputs], ["y"], s.attrs),
      ],
    }, `squeeze opset ${opset}`);
  }
});

Deno.test("shape arithmetic: Shape, Gather, Slice, Cast, Div, Concat fold into Reshape", async () => {
  // x.reshape(x.size(0), x.size(1) // 2, -1) written the way torch writes it, plus opset 15's
  // Shape start/end.
  const graph = await versusOrt({
    opset: 15,
    inputs: [["x", [2, 6, 5]]],
    outputs: ["y"],
    initializers: [
      int64s("zero", [0], []),
      int64s("two", [2], []),
      int64s("minus1", [-1]),
      int64s("s0", [1]),
      int64s("e0", [2]),
      int64s("zero1", [0]),
      floats("half", [], [0.5]),
    ],
    nodes: [
      node("Shape", ["x"], ["shape"]),
      node("Gather", ["shape", "zero"], ["n"], { axis: 0 }),
      node("Shape", ["x"], ["tail"], { start: 1, end: -1 }),
      node("Slice", ["tail", "s0", "e0"], ["nothing"]),
      node("Gather", ["tail", "zero"], ["c"], { axis: 0 }),
      node("Div", ["c", "two"], ["half_c"]),
      node("Cast", ["half_c"], ["half_c64"], { to: DataType.INT64 }),
      node("Unsqueeze", ["n", "zero1"], ["n1"]),
      node("Unsqueeze", ["half_c64", "zero1"], ["c1"]),
      node("Concat", ["n1", "c1", "nothing", "minus1"], ["target"], { axis: 0 }),
      node("Reshape", ["x", "target"], ["r"]),
      node("Mul", ["r", "half"], ["y"]),
    ],
  }, "shape chain");
  assert.deepEqual(graph.outputs[0].node.type.shape, [2, 3, 10]);
});

Deno.test("elementwise ops, broadcasting and constants", async () => {
  await versusOrt({
    inputs: [["x", [2, 3, 4]], ["z", [4]]],
    outputs: ["y", "w"],
    initializers: [random("c", [3, 1], 8), floats("zero", [], [0]), floats("one", [1], [1])],
    nodes: [
      node("Constant", [], ["k"], { value_floats: { floats: [0.5, -1, 2, 3] } }),
      node("Sub", ["x", "c"], ["a"]),
      node("Div", ["a", "k"], ["b"]),
      node("Add", ["b", "zero"], ["b0"]),
      node("Mul", ["one", "b0"], ["b1"]),
      node("Sigmoid", ["b1"], ["s"]),
      node("Mul", ["s", "z"], ["m"]),
      node("Erf", ["m"], ["e"]),
      node("Identity", ["e"], ["y"]),
      node("Dropout", ["e"], ["d"]),
      node("Relu", ["d"], ["w"]),
    ],
  }, "elementwise");
});

Deno.test("movement: Transpose default perm, Flatten negative axis, Concat with constants", async () => {
  const graph = await versusOrt({
    inputs: [["x", [2, 3, 4]]],
    outputs: ["y"],
    initializers: [random("c", [4, 3, 1], 9)],
    nodes: [
      node("Transpose", ["x"], ["t"]),
      node("Concat", ["t", "c"], ["cat"], { axis: -1 }),
      node("Flatten", ["cat"], ["y"], { axis: -1 }),
    ],
  }, "movement");
  assert.deepEqual(graph.outputs[0].node.type.shape, [12, 3]);
});

Deno.test("BatchNormalization on 2-D and 4-D inputs", async () => {
  for (const shape of [[5, 6], [2, 6, 3, 3]]) {
    await versusOrt({
      inputs: [["x", shape]],
      outputs: ["y"],
      initializers: [
        random("s", [6], 10),
        random("b", [6], 11),
        random("m", [6], 12),
        floats("v", [6], uniform(6, 13, 0.5, 2)),
      ],
      nodes: [
        node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], { epsilon: { f: 1e-3 } }),
      ],
    }, `batchnorm ${shape.length}-D`);
  }
});

Deno.test("GELU: the exported Div/Erf/Add/Mul pattern in any association becomes gelu", async () => {
  const pattern = (last: "torch" | "half-first") => ({
    inputs: [["x", [2, 8]]] as Spec["inputs"],
    outputs: ["y"],
    initializers: [
      floats("sqrt2", [], [Math.SQRT2]),
      floats("one", [], [1]),
      floats("half", [], [0.5]),
    ],
    nodes: [
      node("Div", ["x", "sqrt2"], ["d"]),
      node("Erf", ["d"], ["e"]),
      node("Add", ["e", "one"], ["a"]),
      ...(last === "torch"
        ? [node("Mul", ["x", "a"], ["m"]), node("Mul", ["m", "half"], ["y"])]
        : [node("Mul", ["half", "x"], ["m"]), node("Mul", ["a", "m"], ["y"])]),
    ],
  });
  for (const form of ["torch", "half-first"] as const) {
    const graph = await versusOrt(pattern(form), `gelu ${form}`);
    assert.deepEqual(summarize(graph).ops, { gelu: 1 }, form);
  }
  const op = importOnnx(
    onnxModel({
      inputs: [["x", [2, 8]]],
      outputs: ["y"],
      nodes: [node("Gelu", ["x"], ["y"])],
    }),
    { file: "gelu.onnx" },
  );
  assert.deepEqual(summarize(op).ops, { gelu: 1 });
});

Deno.test("initializers: typed fields, double and float16, int32 shapes", async () => {
  const values = [0.5, -1.25, 3, 65504];
  const half = new Uint16Array([0x3800, 0xbd00, 0x4200, 0x7bff]);
  const inits: TensorProto[] = [
    { name: "f", dims: [4], data_type: DataType.FLOAT, float_data: values },
    { name: "d", dims: [4], data_type: DataType.DOUBLE, double_data: values },
    { name: "h", dims: [4], data_type: DataType.FLOAT16, raw_data: new Uint8Array(half.buffer) },
    { name: "h2", dims: [4], data_type: DataType.FLOAT16, int32_data: [...half] },
  ];
  for (const init of inits) {
    const graph = importOnnx(
      onnxModel({
        inputs: [["x", [4]]],
        outputs: ["y"],
        initializers: [init],
        nodes: [node("Add", ["x", init.name!], ["y"])],
      }),
      { file: "init.onnx" },
    );
    assert.deepEqual([...graph.outputs[0].node.inputs[1].data!], values, init.name);
  }
  await versusOrt({
    inputs: [["x", [2, 6]]],
    outputs: ["y"],
    initializers: [{
      name: "s",
      dims: [2],
      data_type: DataType.INT64,
      raw_data: new Uint8Array(new BigInt64Array([3n, -1n]).buffer),
    }],
    nodes: [node("Reshape", ["x", "s"], ["y"])],
  }, "int64 raw_data shape");
});
