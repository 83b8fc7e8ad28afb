/**
 * Mappers of the layers: Conv, BatchNormalization, the pools, ReduceMean
 * over H and W, and Pad (Gemm and MatMul are in ops_matmul.ts). Only 2-D (NCHW) convolution and pooling
 * exist in the IR. A zero Pad is kept aside as a "padded" value and folded
 * into the AveragePool or Conv that reads it: torch exports AvgPool2d as
 * Pad -> AveragePool, usually with all-zero pads, which vanish. A zero Pad of
 * a bias-free, unpadded 1x1 conv becomes that conv's padding (DBB's BNAndPad).
 */
import type { Node } from "../../ir/mod.ts";
import type { ImportContext, Value } from "./context.ts";
import { normalizeAxis } from "./fold.ts";
import { constOf, intsOf, type Mapper, type MapperArgs, outName, shapeOf } from "./mapper.ts";

type Quad = [number, number, number, number];
type Pair = [number, number];

function pair(
  ctx: ImportContext,
  values: number[] | undefined,
  name: string,
  fallback: number,
): Pair {
  const list = values ?? [fallback, fallback];
  if (list.length !== 2) ctx.fail(`${name} [${list}] must have two entries (2-D only)`);
  return [list[0], list[1]];
}

/** Explicit [top, left, bottom, right] pads from `pads`/`auto_pad`. */
function windowPads(
  ctx: ImportContext,
  args: MapperArgs,
  input: readonly number[],
  kernel: Pair,
  stride: Pair,
  dilation: Pair,
): Quad {
  const autoPad = args.attrs.string("auto_pad", "NOTSET");
  if (autoPad === "NOTSET") {
    const pads = args.attrs.ints("pads") ?? [0, 0, 0, 0];
    if (pads.length !== 4 || pads.some((pad) => pad < 0)) {
      ctx.fail(`pads [${pads}] must be four entries >= 0`);
    }
    return pads as Quad;
  }
  if (autoPad === "VALID") return [0, 0, 0, 0];
  if (autoPad !== "SAME_UPPER" && autoPad !== "SAME_LOWER") {
    ctx.fail(`unknown auto_pad "${autoPad}"`);
  }
  const [before, after] = [0, 1].map((axis) => {
    const size = input[2 + axis];
    const out = Math.ceil(size / stride[axis]);
    const total = Math.max(
      0,
      (out - 1) * stride[axis] + (kernel[axis] - 1) * dilation[axis] + 1 - size,
    );
    const small = Math.floor(total / 2);
    return autoPad === "SAME_UPPER" ? [small, total - small] : [total - small, small];
  }).reduce<[number[], number[]]>(([b, a], [x, y]) => [[...b, x], [...a, y]], [[], []]);
  return [before[0], before[1], after[0], after[1]];
}

/** The node and zero padding behind a value that may be a folded-away Pad. */
function unpad(
  ctx: ImportContext,
  value: Value | undefined,
): { node: Node; pads: Quad } {
  if (value?.kind === "padded") return { node: value.node, pads: [...value.pads] };
  return { node: ctx.node(value), pads: [0, 0, 0, 0] };
}

const addQuads = (a: Quad, b: Quad): Quad => [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]];

function requireRank4(ctx: ImportContext, shape: readonly number[], what: string) {
  if (shape.length !== 4) {
    ctx.fail(`only 2-D ${what} on NCHW tensors is supported; the input is [${shape}]`);
  }
}

const conv: Mapper = (ctx, args) => {
  const { node: x, pads: padded } = unpad(ctx, args.inputs[0]);
  const w = ctx.node(args.inputs[1], "weight");
  const shape = shapeOf(args.inputs[0]!);
  requireRank4(ctx, shape, "convolution");
  const kernel = pair(
    ctx,
    args.attrs.ints("kernel_shape") ?? w.type.shape.slice(2),
    "kernel_shape",
    1,
  );
  const stride = pair(ctx, args.attrs.ints("strides"), "strides", 1);
  const dilation = pair(ctx, args.attrs.ints("dilations"), "dilations", 1);
  const pads = addQuads(windowPads(ctx, args, shape, kernel, stride, dilation), padded);
  const inputs = [x, w];
  if (args.inputs[2]) inputs.push(ctx.node(args.inputs[2], "bias"));
  const groups = args.attrs.int("group", 1);
  return [ctx.emit("conv2d", inputs, { stride, pads, dilation, groups }, outName(args))];
};

const batchNormalization: Mapper = (ctx, args) => {
  if (
    args.outputs.slice(1).some((name) => name !== "") || args.attrs.int("training_mode", 0) !== 0
  ) {
    ctx.fail(
      "training-mode BatchNormalization; export with model.eval() and training=torch.onnx.TrainingMode.PRESERVE or EVAL",
    );
  }
  const [x, gamma, beta, mean, variance] = ["input", "scale", "bias", "mean", "var"].map((
    role,
    i,
  ) => ctx.node(args.inputs[i], role));
  const epsilon = args.attrs.float("epsilon", 1e-5);
  return [
    ctx.emit("batchnorm", [x, gamma, beta, mean, variance], { epsilon, axis: 1 }, outName(args)),
  ];
};

/** Kernel, stride and explicit pads of a pool, refusing what the IR cannot express. */
function poolWindow(ctx: ImportContext, args: MapperArgs, shape: readonly number[]) {
  requireRank4(ctx, shape, "pooling");
  const kernel = pair(
    ctx,
    args.attrs.ints("kernel_shape") ?? ctx.fail("missing kernel_shape"),
    "kernel_shape",
    1,
  );
  const stride = pair(ctx, args.attrs.ints("strides"), "strides", 1);
  const dilation = pair(ctx, args.attrs.ints("dilations"), "dilations", 1);
  if (dilation[0] !== 1 || dilation[1] !== 1) {
    ctx.fail(`dilated pooling [${dilation}] is not supported`);
  }
  const pads = windowPads(ctx, args, shape, kernel, stride, dilation);
  if (args.attrs.int("ceil_mode", 0)) {
    const sizes = [0, 1].map((axis) =>
      (shape[2 + axis] + pads[axis] + pads[axis + 2] - kernel[axis]) / stride[axis]
    );
    if (sizes.some((size) => Math.ceil(size) !== Math.floor(size))) {
      ctx.fail("ceil_mode=1 changes the output size here; refold pools with floor rounding only");
    }
  }
  return { kernel, stride, pads };
}

const averagePool: Mapper = (ctx, args) => {
  const { node: x, pads: padded } = unpad(ctx, args.inputs[0]);
  const { kernel, stride, pads } = poolWindow(ctx, args, shapeOf(args.inputs[0]!));
  // Without padding the flag changes nothing; PyTorch's default keeps graphs uniform.
  let countIncludePad = args.attrs.int("count_include_pad", 0) === 1 ||
    pads.every((pad) => pad === 0);
  if (padded.some((pad) => pad > 0)) {
    // The zeros of a Pad always count in the divisor; the pool's own padding must too.
    if (!countIncludePad && pads.some((pad) => pad > 0)) {
      ctx.fail(
        "a zero Pad before an AveragePool that pads with count_include_pad=0 is not representable",
      );
    }
    countIncludePad = true;
  }
  return [
    ctx.emit(
      "avgpool",
      [x],
      { kernel, stride, pads: addQuads(pads, padded), countIncludePad },
      outName(args),
    ),
  ];
};

const maxPool: Mapper = (ctx, args) => {
  if (args.outputs[1]) ctx.fail("MaxPool's Indices output is not supported");
  const x = ctx.node(args.inputs[0]);
  const { kernel, stride, pads } = poolWindow(ctx, args, x.type.shape);
  return [ctx.emit("maxpool", [x], { kernel, stride, pads }, outName(args))];
};

const globalAveragePool: Mapper = (ctx, args) => {
  const x = ctx.node(args.inputs[0]);
  requireRank4(ctx, x.type.shape, "pooling");
  return [ctx.emit("global_avgpool", [x], {}, outName(args))];
};

const reduceMean: Mapper = (ctx, args) => {
  const x = ctx.node(args.inputs[0]);
  const rank = x.type.shape.length;
  const given = ctx.opset >= 18 && args.inputs[1]
    ? intsOf(ctx, args.inputs[1], "axes")
    : args.attrs.ints("axes");
  const axes = (given ?? [...Array(rank).keys()]).map((axis) => normalizeAxis(axis, rank)).sort();
  if (rank !== 4 || axes.length !== 2 || axes[0] !== 2 || axes[1] !== 3) {
    ctx.fail(
      `ReduceMean over axes [${given}] of a rank-${rank} tensor is not supported (only H and W of NCHW)`,
    );
  }
  const name = outName(args);
  if (args.attrs.int("keepdims", 1)) return [ctx.emit("global_avgpool", [x], {}, name)];
  const pooled = ctx.emitNode("global_avgpool", [x], {}, `${name}/pool`);
  return [ctx.emit("reshape", [pooled], { shape: x.type.shape.slice(0, 2) }, name)];
};

const pad: Mapper = (ctx, args) => {
  const mode = args.attrs.string("mode", "constant");
  const input = args.inputs[0] ?? ctx.fail("missing input");
  const shape = shapeOf(input);
  const rank = shape.length;
  const opset11 = ctx.opset >= 11;
  const given = opset11 ? intsOf(ctx, args.inputs[1], "pads") : args.attrs.ints("pads") ?? [];
  const value = opset11
    ? (args.inputs[2] ? intsOrFloat(ctx, args.inputs[2]) : 0)
    : args.attrs.float("value", 0);
  const axes = opset11 && args.inputs[3]
    ? intsOf(ctx, args.inputs[3], "axes").map((axis) =>
      normalizeAxis(axis, rank) ?? ctx.fail(`axis ${axis} is out of range`)
    )
    : [...Array(rank).keys()];
  if (given.length !== 2 * axes.length) {
    ctx.fail(`pads [${given}] must hold ${2 * axes.length} entries`);
  }
  const begin = new Array<number>(rank).fill(0), end = new Array<number>(rank).fill(0);
  axes.forEach((axis, i) => {
    begin[axis] = given[i];
    end[axis] = given[i + axes.length];
  });
  if ([...begin, ...end].every((p) => p === 0)) return [input];
  const spatialOnly = rank === 4 && begin[0] === 0 && begin[1] === 0 && end[0] === 0 &&
    end[1] === 0;
  if (mode !== "constant" || value !== 0 || !spatialOnly || [...begin, ...end].some((p) => p < 0)) {
    ctx.fail(
      `Pad (mode ${mode}, value ${value}, pads [${given}]) is not supported; refold folds only zero padding of H and W into a following AveragePool or Conv`,
    );
  }
  const previous: Quad = input.kind === "padded" ? [...input.pads] : [0, 0, 0, 0];
  const node = input.kind === "padded" ? input.node : ctx.node(input);
  const pads = addQuads(previous, [begin[2], begin[3], end[2], end[3]]);
  const padsItself = padsAsPointwiseConv(node);
  if (padsItself) {
    return [ctx.emit("conv2d", padsItself.inputs, { ...padsItself.attrs, pads }, outName(args))];
  }
  return [{ kind: "padded", node, pads, where: ctx.where }];
};

/**
 * A bias-free, unpadded 1x1 conv with stride 1 maps zeros to zeros, so zero
 * padding its output is the same conv padding its input: pad(conv1x1(x)) =
 * conv1x1{pads}(x). DiverseBranchBlock's BNAndPad, written bn(pad(x)), then
 * imports as a padded 1x1 conv followed by the BN, which the compiler folds.
 */
function padsAsPointwiseConv(node: Node): Node<"conv2d"> | undefined {
  if (node.op !== "conv2d" || node.inputs.length !== 2) return undefined;
  const [, , kh, kw] = node.inputs[1].type.shape;
  const { stride, pads } = node.attrs;
  const pointwise = kh === 1 && kw === 1 && stride[0] === 1 && stride[1] === 1;
  return pointwise && pads.every((pad) => pad === 0) ? node : undefined;
}

function intsOrFloat(ctx: ImportContext, value: Value): number {
  const tensor = constOf(value) ?? ctx.fail("its constant_value is computed at run time");
  return tensor.data[0] ?? 0;
}

/** Layer mappers, by ONNX op type. */
export const NN_MAPPERS: Readonly<Record<string, Mapper>> = {
  Conv: conv,
  BatchNormalization: batchNormalization,
  AveragePool: averagePool,
  MaxPool: maxPool,
  GlobalAveragePool: globalAveragePool,
  ReduceMean: reduceMean,
  Pad: pad,
};
