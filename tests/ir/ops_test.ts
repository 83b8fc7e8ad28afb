// Shape rules of every op, including the errors they raise at construction.
import assert from "node:assert/strict";
import {
  isReinterpret,
  isView,
  makeInput,
  makeNode,
  makeWeight,
  type Node,
  OP_NAMES,
  type OpAttrs,
  type OpName,
  ShapeError,
  windowGeometry,
  windowOf,
} from "../../ir/mod.ts";

const x = (shape: number[]) => makeInput("x", shape);
const w = (shape: number[]) =>
  makeWeight("w", shape, new Float32Array(shape.reduce((a, d) => a * d, 1)));
const conv = (attrs: Partial<OpAttrs["conv2d"]> = {}): OpAttrs["conv2d"] => ({
  stride: [1, 1],
  pads: [0, 0, 0, 0],
  dilation: [1, 1],
  groups: 1,
  ...attrs,
});

function shapeOf<O extends OpName>(op: O, inputs: Node[], attrs: OpAttrs[O]): readonly number[] {
  return makeNode(op, inputs, attrs).type.shape;
}

function throwsShape<O extends OpName>(op: O, inputs: Node[], attrs: OpAttrs[O], pattern: RegExp) {
  assert.throws(() => makeNode(op, inputs, attrs), (error: unknown) => {
    assert.ok(error instanceof ShapeError, `expected ShapeError, got ${error}`);
    assert.match(error.message, new RegExp(`^${op}`), "the message starts with the op");
    assert.match(error.message, pattern);
    return true;
  });
}

// Each case: a valid construction with its expected shape, and one that must fail.
const cases: { [O in OpName]: () => void } = {
  input() {
    assert.deepEqual(makeInput("x", [2, 3]).type.shape, [2, 3]);
    assert.throws(() => makeInput("x", [2, 0]), /shape must be positive/);
    assert.throws(() => makeInput("x", [2 ** 20, 2 ** 20]), /at most 2\^30/);
  },
  weight() {
    assert.deepEqual(w([4]).type.shape, [4]);
    assert.throws(() => makeWeight("w", [4], new Float32Array(3)), /has 3 values.*needs 4/);
  },
  conv2d() {
    assert.deepEqual(
      shapeOf(
        "conv2d",
        [x([1, 4, 8, 8]), w([6, 2, 3, 3])],
        conv({ groups: 2, pads: [1, 1, 1, 1], stride: [2, 2] }),
      ),
      [1, 6, 4, 4],
    );
    assert.deepEqual(
      shapeOf(
        "conv2d",
        [x([1, 1, 5, 7]), w([1, 1, 3, 3])],
        conv({ dilation: [2, 1], pads: [0, 2, 0, 0] }),
      ),
      [1, 1, 1, 7],
    );
    throwsShape(
      "conv2d",
      [x([1, 4, 8, 8]), w([6, 2, 3, 3])],
      conv({ groups: 3 }),
      /not divisible by groups/,
    );
    throwsShape(
      "conv2d",
      [x([1, 4, 8, 8]), w([6, 4, 3, 3])],
      conv({ groups: 2 }),
      /4 input channels per group, input gives 2/,
    );
    throwsShape(
      "conv2d",
      [x([1, 4, 2, 2]), w([4, 4, 3, 3])],
      conv(),
      /larger than the padded input/,
    );
    throwsShape(
      "conv2d",
      [x([1, 4, 8, 8]), w([4, 4, 1, 1]), w([5])],
      conv(),
      /bias must have shape \[4\]/,
    );
    throwsShape("conv2d", [x([4, 8, 8]), w([4, 4, 1, 1])], conv(), /4-D/);
  },
  batchnorm() {
    const p = w([3]);
    assert.deepEqual(shapeOf("batchnorm", [x([2, 3, 4]), p, p, p, p], { epsilon: 1e-5, axis: 1 }), [
      2,
      3,
      4,
    ]);
    throwsShape(
      "batchnorm",
      [x([2, 4]), p, p, p, p],
      { epsilon: 1e-5, axis: 1 },
      /must have shape \[4\]/,
    );
    throwsShape(
      "batchnorm",
      [x([2, 3]), p, p, p, p],
      { epsilon: 1e-5, axis: 2 },
      /axis out of range/,
    );
  },
  linear() {
    assert.deepEqual(shapeOf("linear", [x([5, 8]), w([6, 4])], { groups: 2 }), [5, 6]);
    assert.deepEqual(shapeOf("linear", [x([2, 3, 8]), w([6, 8]), w([6])], { groups: 1 }), [
      2,
      3,
      6,
    ]);
    throwsShape(
      "linear",
      [x([5, 8]), w([6, 8])],
      { groups: 2 },
      /8 features per group, input gives 4/,
    );
    throwsShape("linear", [x([5, 8]), w([5, 4])], { groups: 2 }, /not divisible by groups/);
  },
  reshape() {
    assert.deepEqual(shapeOf("reshape", [x([2, 3, 4])], { shape: [-1, 4] }), [6, 4]);
    throwsShape("reshape", [x([2, 3, 4])], { shape: [5, -1] }, /does not hold/);
    throwsShape("reshape", [x([2, 3, 4])], { shape: [-1, -1] }, /does not hold/);
  },
  transpose() {
    assert.deepEqual(shapeOf("transpose", [x([2, 3, 4])], { perm: [2, 0, 1] }), [4, 2, 3]);
    throwsShape("transpose", [x([2, 3, 4])], { perm: [0, 0, 1] }, /not a permutation/);
  },
  flatten() {
    assert.deepEqual(shapeOf("flatten", [x([2, 3, 4])], { axis: 1 }), [2, 12]);
    assert.deepEqual(shapeOf("flatten", [x([2, 3, 4])], { axis: 0 }), [1, 24]);
    throwsShape("flatten", [x([2, 3])], { axis: 3 }, /axis out of range/);
  },
  concat() {
    assert.deepEqual(shapeOf("concat", [x([2, 3]), w([2, 5])], { axis: 1 }), [2, 8]);
    throwsShape("concat", [x([2, 3]), w([3, 3])], { axis: 1 }, /differ outside/);
  },
  add: () => binary("add"),
  sub: () => binary("sub"),
  mul: () => binary("mul"),
  div: () => binary("div"),
  relu: () => unary("relu"),
  sigmoid: () => unary("sigmoid"),
  gelu: () => unary("gelu"),
  erf: () => unary("erf"),
  avgpool() {
    const attrs = {
      kernel: [3, 3],
      stride: [2, 2],
      pads: [1, 1, 1, 1],
      countIncludePad: true,
    } as const;
    assert.deepEqual(shapeOf("avgpool", [x([1, 2, 7, 7])], attrs), [1, 2, 4, 4]);
    throwsShape(
      "avgpool",
      [x([1, 2, 7, 7])],
      { ...attrs, pads: [3, 3, 3, 3] },
      /smaller than kernel/,
    );
  },
  maxpool() {
    const attrs = { kernel: [2, 2], stride: [2, 2], pads: [0, 0, 0, 0] } as const;
    assert.deepEqual(shapeOf("maxpool", [x([1, 2, 7, 6])], attrs), [1, 2, 3, 3]);
    throwsShape("maxpool", [x([1, 2, 1, 1])], attrs, /larger than the padded input/);
  },
  global_avgpool() {
    assert.deepEqual(shapeOf("global_avgpool", [x([2, 5, 3, 3])], {}), [2, 5, 1, 1]);
    throwsShape("global_avgpool", [x([2, 5])], {}, /4-D/);
  },
};

function binary(op: "add" | "sub" | "mul" | "div") {
  assert.deepEqual(shapeOf(op, [x([2, 3, 1]), w([4])], {}), [2, 3, 4]);
  assert.deepEqual(shapeOf(op, [x([1, 3, 1, 5]), w([2, 1, 4, 1])], {}), [2, 3, 4, 5]);
  throwsShape(op, [x([2, 3]), w([4])], {}, /do not broadcast/);
}

function unary(op: "relu" | "sigmoid" | "gelu" | "erf") {
  assert.deepEqual(shapeOf(op, [x([2, 3])], {}), [2, 3]);
  assert.throws(() => makeNode(op, [], {}), /takes 1 inputs, got 0/);
}

for (const op of OP_NAMES) Deno.test(`shape rule of ${op}`, cases[op]);

Deno.test("shape errors name the attributes and input types", () => {
  assert.throws(
    () => makeNode("conv2d", [x([1, 4, 8, 8]), w([6, 2, 3, 3])], conv({ groups: 3 })),
    {
      message:
        "conv2d {dilation=[1,1], groups=3, pads=[0,0,0,0], stride=[1,1]}(f32[1,4,8,8], f32[6,2,3,3]): input channels 4 not divisible by groups",
    },
  );
});

Deno.test("windowGeometry: conv and pool windows, global pool covers the plane", () => {
  const x = makeInput("x", [2, 6, 9, 7]);
  const w = makeWeight("w", [4, 3, 3, 5], new Float32Array(4 * 3 * 3 * 5));
  const conv = makeNode("conv2d", [x, w], {
    stride: [2, 1],
    pads: [1, 2, 0, 2],
    dilation: [1, 2],
    groups: 2,
  });
  assert.deepEqual(windowGeometry(conv), {
    batch: 2,
    channels: 6,
    height: 9,
    width: 7,
    outChannels: 4,
    outHeight: 4,
    outWidth: 3,
    groups: 2,
    window: { kernel: [3, 5], stride: [2, 1], pads: [1, 2, 0, 2], dilation: [1, 2] },
  });
  const pool = makeNode("global_avgpool", [x], {});
  assert.deepEqual(windowOf(pool), {
    kernel: [9, 7],
    stride: [1, 1],
    pads: [0, 0, 0, 0],
    dilation: [1, 1],
  });
});

Deno.test("views: transpose is a view but not a reinterpretation; concat is neither", () => {
  const input = makeInput("x", [2, 3]);
  const reshape = makeNode("reshape", [input], { shape: [3, 2] });
  const transpose = makeNode("transpose", [input], { perm: [1, 0] });
  const concat = makeNode("concat", [input, input], { axis: 0 });
  assert.deepEqual([reshape, transpose, concat].map(isView), [true, true, false]);
  assert.deepEqual([reshape, transpose, concat].map(isReinterpret), [true, false, false]);
});
