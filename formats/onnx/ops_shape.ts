/**
 * Mappers of movement and shape ops: Identity, Constant, Shape, Reshape,
 * Flatten, Transpose, Concat, Squeeze, Unsqueeze, Cast, and the ops torch uses
 * only in shape arithmetic (Gather, Slice, ConstantOfShape, Range, Expand,
 * Where), which fold on constants. Opset differences handled here: Squeeze and
 * Unsqueeze take axes as an attribute before opset 13 and as an input after;
 * Shape takes start/end from opset 15; Reshape takes allowzero from opset 14.
 */
import { broadcastShapes, resolveReshape, sizeOf } from "../../ir/mod.ts";
import { constValue, type ImportContext, type Value } from "./context.ts";
import {
  concatConst,
  constant,
  expandConst,
  gather,
  normalizeAxis,
  reshaped,
  slice,
  transposeConst,
} from "./fold.ts";
import {
  checkConstShape,
  constOf,
  foldOnly,
  intsOf,
  type Mapper,
  type MapperArgs,
  outName,
  requireConst,
  shapeOf,
} from "./mapper.ts";
import { DataType } from "./proto.ts";
import { constDType, type ConstTensor, dataTypeName, readTensor } from "./tensor.ts";

/** Reshapes a value to a fully known shape (no -1, no 0). */
export function reshapeValue(
  ctx: ImportContext,
  value: Value,
  shape: number[],
  name: string,
): Value {
  const tensor = constOf(value);
  if (tensor) return constValue(reshaped(tensor, shape, name));
  return ctx.emit("reshape", [ctx.node(value)], { shape }, name);
}

/**
 * Reshape's target with 0 (copy) and -1 (infer) resolved. When --batch
 * replaced a batch size baked into the model, a constant target that starts
 * with the baked size is rescaled: torch folds `x.view(x.size(0), -1)` to
 * [1, -1] and v2's `reshape(*x.size())` to [1, C, H, W]. It is a guess, the
 * one place where refold guesses; a dynamic batch axis at export avoids it.
 */
function reshapeTarget(ctx: ImportContext, args: MapperArgs, input: readonly number[]): number[] {
  const target = intsOf(ctx, args.inputs[1], "shape");
  const allowZero = args.attrs.int("allowzero", 0) === 1;
  const withCopies = target.map((dim, i) => (dim === 0 && !allowZero ? input[i] : dim));
  if (withCopies.some((dim) => dim === undefined)) {
    ctx.fail(`target shape [${target}] copies a missing axis`);
  }
  const size = sizeOf(input);
  const override = ctx.batchOverride;
  if (override && withCopies[0] === override[0] && target[0] !== 0) {
    const rescaled = resolveReshape([override[1], ...withCopies.slice(1)], size);
    if (rescaled) return rescaled;
  }
  return resolveReshape(withCopies, size) ??
    ctx.fail(`target shape [${target}] does not hold the input's shape [${input}]`);
}

function axesInput(ctx: ImportContext, args: MapperArgs): number[] | undefined {
  if (ctx.opset < 13) return args.attrs.ints("axes");
  return args.inputs[1] ? intsOf(ctx, args.inputs[1], "axes") : undefined;
}

const identity: Mapper = (_ctx, args) => [args.inputs[0]!];

const constantOp: Mapper = (ctx, args) => {
  const name = outName(args);
  const tensor = args.attrs.tensor("value");
  if (tensor) {
    return [constValue(readTensor(tensor, ctx.source, name))];
  }
  const floats = args.attrs.floats("value_floats"), ints = args.attrs.ints("value_ints");
  if (args.attrs.has("value_float")) {
    return [
      constValue(constant("float", [], [Math.fround(args.attrs.float("value_float", 0))], name)),
    ];
  }
  if (args.attrs.has("value_int")) {
    return [constValue(constant("int", [], [args.attrs.int("value_int", 0)], name))];
  }
  if (floats) return [constValue(constant("float", [floats.length], floats, name))];
  if (ints) return [constValue(constant("int", [ints.length], ints, name))];
  return ctx.fail(`Constant with attributes [${args.attrs.names()}] is not supported`);
};

const shapeOp: Mapper = (ctx, args) => {
  const shape = shapeOf(args.inputs[0] ?? ctx.fail("missing input"));
  const rank = shape.length;
  const clamp = (value: number) => Math.min(Math.max(value < 0 ? value + rank : value, 0), rank);
  const start = clamp(args.attrs.int("start", 0)), end = clamp(args.attrs.int("end", rank));
  const dims = shape.slice(start, Math.max(start, end));
  return [constValue(constant("int", [dims.length], dims, outName(args)))];
};

const reshapeOp: Mapper = (ctx, args) => {
  const input = args.inputs[0] ?? ctx.fail("missing data input");
  return [reshapeValue(ctx, input, reshapeTarget(ctx, args, shapeOf(input)), outName(args))];
};

const flattenOp: Mapper = (ctx, args) => {
  const input = args.inputs[0] ?? ctx.fail("missing input");
  const shape = shapeOf(input);
  const raw = args.attrs.int("axis", 1);
  const axis = raw < 0 ? raw + shape.length : raw;
  if (axis < 0 || axis > shape.length) {
    ctx.fail(`axis ${raw} is out of range for rank ${shape.length}`);
  }
  if (input.kind !== "const") {
    return [ctx.emit("flatten", [ctx.node(input)], { axis }, outName(args))];
  }
  const out = [sizeOf(shape.slice(0, axis)), sizeOf(shape.slice(axis))];
  return [reshapeValue(ctx, input, out, outName(args))];
};

const transposeOp: Mapper = (ctx, args) => {
  const input = args.inputs[0] ?? ctx.fail("missing input");
  const rank = shapeOf(input).length;
  const perm = args.attrs.ints("perm") ?? [...Array(rank).keys()].reverse();
  const tensor = constOf(input);
  if (tensor) {
    const valid = perm.length === rank && [...perm].sort((a, b) => a - b).every((a, i) => a === i);
    if (!valid) ctx.fail(`perm [${perm}] is not a permutation of ${rank} axes`);
    ctx.fold(tensor.data.length, tensor.data.length);
    return [constValue(transposeConst(tensor, perm, outName(args)))];
  }
  return [ctx.emit("transpose", [ctx.node(input)], { perm }, outName(args))];
};

const concatOp: Mapper = (ctx, args) => {
  const inputs = args.inputs.filter((input): input is Value => input !== undefined);
  if (inputs.length === 0) ctx.fail("Concat without inputs");
  const rank = shapeOf(inputs[0]).length;
  const raw = args.attrs.int("axis", 0);
  const axis = normalizeAxis(raw, rank) ?? ctx.fail(`axis ${raw} is out of range for rank ${rank}`);
  const tensors = inputs.map(constOf).filter((tensor): tensor is ConstTensor => !!tensor);
  if (tensors.length === inputs.length) {
    const [first] = tensors;
    const fits = tensors.every((t) =>
      t.dtype === first.dtype && t.shape.length === rank &&
      t.shape.every((dim, i) => i === axis || dim === first.shape[i])
    );
    if (!fits) ctx.fail(`inputs [${tensors.map((t) => `[${t.shape}]`)}] do not concatenate`);
    const sizes = tensors.map((t) => t.data.length);
    ctx.fold(sizes.reduce((a, b) => a + b, 0), Math.max(...sizes));
    return [constValue(concatConst(tensors, axis, outName(args)))];
  }
  const nodes = inputs.map((input, i) => ctx.node(input, `input ${i}`));
  return [ctx.emit("concat", nodes, { axis }, outName(args))];
};

const squeezeOp: Mapper = (ctx, args) => {
  const input = args.inputs[0] ?? ctx.fail("missing input");
  const shape = shapeOf(input);
  const axes = (axesInput(ctx, args) ?? shape.flatMap((dim, i) => (dim === 1 ? [i] : [])))
    .map((axis) => normalizeAxis(axis, shape.length) ?? ctx.fail(`axis ${axis} is out of range`));
  for (const axis of axes) {
    if (shape[axis] !== 1) ctx.fail(`cannot squeeze axis ${axis} of size ${shape[axis]}`);
  }
  return [reshapeValue(ctx, input, shape.filter((_dim, i) => !axes.includes(i)), outName(args))];
};

const unsqueezeOp: Mapper = (ctx, args) => {
  const input = args.inputs[0] ?? ctx.fail("missing input");
  const shape = shapeOf(input);
  const given = axesInput(ctx, args) ?? ctx.fail("Unsqueeze without axes");
  const rank = shape.length + given.length;
  const axes = given.map((axis) =>
    normalizeAxis(axis, rank) ?? ctx.fail(`axis ${axis} is out of range`)
  );
  if (new Set(axes).size !== axes.length) ctx.fail(`repeated axes [${given}]`);
  const out: number[] = [];
  let next = 0;
  for (let i = 0; i < rank; i++) out.push(axes.includes(i) ? 1 : shape[next++]);
  return [reshapeValue(ctx, input, out, outName(args))];
};

const castOp: Mapper = (ctx, args) => {
  const to = args.attrs.int("to", 0);
  const dtype = constDType(to) ?? ctx.fail(`Cast to ${dataTypeName(to)} is not supported`);
  const input = args.inputs[0] ?? ctx.fail("missing input");
  const tensor = constOf(input);
  if (tensor) {
    if (dtype !== tensor.dtype) ctx.fold(tensor.data.length, tensor.data.length);
    return [constValue(reshaped(tensor, tensor.shape, outName(args), dtype))];
  }
  if (to !== DataType.FLOAT) {
    ctx.fail(`Cast of a computed float tensor to ${dataTypeName(to)} is not supported`);
  }
  return [input];
};

const gatherOp: Mapper = (ctx, args) => {
  const data = requireConst(ctx, args.inputs[0], "data");
  const indices = requireConst(ctx, args.inputs[1], "indices");
  const raw = args.attrs.int("axis", 0);
  const axis = normalizeAxis(raw, data.shape.length) ?? ctx.fail(`axis ${raw} is out of range`);
  const shape = [...data.shape.slice(0, axis), ...indices.shape, ...data.shape.slice(axis + 1)];
  checkConstShape(ctx, shape, "the gathered shape");
  ctx.fold(sizeOf(shape), Math.max(data.data.length, indices.data.length));
  const out = gather(data, indices, axis, outName(args));
  return [typeof out === "string" ? ctx.fail(out) : constValue(out)];
};

const sliceOp: Mapper = (ctx, args) => {
  const data = requireConst(ctx, args.inputs[0], "data");
  const rank = data.shape.length;
  const opset10 = ctx.opset >= 10;
  const starts = opset10 ? intsOf(ctx, args.inputs[1], "starts") : args.attrs.ints("starts") ?? [];
  const ends = opset10 ? intsOf(ctx, args.inputs[2], "ends") : args.attrs.ints("ends") ?? [];
  const axes =
    (opset10 && args.inputs[3] ? intsOf(ctx, args.inputs[3], "axes") : args.attrs.ints("axes")) ??
      starts.map((_start, i) => i);
  const steps = opset10 && args.inputs[4]
    ? intsOf(ctx, args.inputs[4], "steps")
    : starts.map(() => 1);
  if (ends.length !== starts.length || axes.length !== starts.length || axes.length > rank) {
    ctx.fail("starts, ends, axes and steps differ in length");
  }
  // A slice is never larger than its data, so it is charged once made.
  const out = slice(data, starts, ends, axes, steps, outName(args));
  if (typeof out === "string") return ctx.fail(out);
  ctx.fold(out.data.length, data.data.length);
  return [constValue(out)];
};

const constantOfShape: Mapper = (ctx, args) => {
  const shape = intsOf(ctx, args.inputs[0], "shape");
  checkConstShape(ctx, shape, "shape");
  ctx.fold(sizeOf(shape));
  const value = args.attrs.tensor("value");
  const fill = value ? readTensor(value, ctx.source) : constant("float", [1], [0], "");
  const data = new Float64Array(sizeOf(shape)).fill(fill.data[0] ?? 0);
  return [constValue(constant(fill.dtype, shape, data, outName(args)))];
};

const rangeOp: Mapper = (ctx, args) => {
  const [start, limit, delta] = [0, 1, 2].map((i) =>
    requireConst(ctx, args.inputs[i], "bound").data[0]
  );
  const count = Math.max(Math.ceil((limit - start) / delta), 0);
  if (!Number.isSafeInteger(count)) ctx.fail("Range has no finite length");
  checkConstShape(ctx, [count], "the range's shape");
  ctx.fold(count);
  const dtype = requireConst(ctx, args.inputs[0], "start").dtype;
  const values = Array.from({ length: count }, (_v, i) => start + i * delta);
  return [constValue(constant(dtype, [count], values, outName(args)))];
};

const expandOp: Mapper = (ctx, args) => {
  const data = requireConst(ctx, args.inputs[0], "input");
  const shape = intsOf(ctx, args.inputs[1], "shape");
  checkConstShape(ctx, shape, "shape");
  const both = broadcastShapes(data.shape, shape);
  if (both) {
    checkConstShape(ctx, both, "the expanded shape");
    ctx.fold(sizeOf(both), data.data.length);
  }
  const out = expandConst(data, shape, outName(args));
  return [out ? constValue(out) : ctx.fail(`shape does not broadcast with [${data.shape}]`)];
};

const whereOp: Mapper = (ctx, args) => {
  const [condition, x, y] = [0, 1, 2].map((i) => requireConst(ctx, args.inputs[i], "input"));
  const both = broadcastShapes(x.shape, y.shape);
  const shape = both && broadcastShapes(condition.shape, both);
  if (!shape) ctx.fail("inputs do not broadcast");
  checkConstShape(ctx, shape!, "the broadcast shape");
  ctx.fold(sizeOf(shape!), Math.max(condition.data.length, x.data.length, y.data.length));
  const [c, a, b] = [condition, x, y].map((t) => expandConst(t, shape!, "")!);
  const data = c.data.map((flag, i) => (flag ? a.data[i] : b.data[i]));
  return [constValue(constant(x.dtype, shape!, data, outName(args)))];
};

/** Movement and shape-arithmetic mappers, by ONNX op type. */
export const SHAPE_MAPPERS: Readonly<Record<string, Mapper>> = {
  Identity: identity,
  Dropout: identity,
  Constant: constantOp,
  Shape: shapeOp,
  Reshape: reshapeOp,
  Flatten: flattenOp,
  Transpose: transposeOp,
  Concat: concatOp,
  Squeeze: squeezeOp,
  Unsqueeze: unsqueezeOp,
  Cast: castOp,
  Gather: foldOnly("Gather", gatherOp),
  Slice: foldOnly("Slice", sliceOp),
  ConstantOfShape: foldOnly("ConstantOfShape", constantOfShape),
  Range: foldOnly("Range", rangeOp),
  Expand: foldOnly("Expand", expandOp),
  Where: foldOnly("Where", whereOp),
};
