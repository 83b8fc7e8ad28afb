/**
 * The op-mapper contract and the helpers every mapper uses: reading constant
 * inputs, and the location-carrying failures of ImportContext.
 */
import { MAX_TENSOR_ELEMENTS, sizeOf } from "../../ir/mod.ts";
import type { Attributes } from "./proto.ts";
import type { ImportContext, Value } from "./context.ts";
import type { ConstTensor } from "./tensor.ts";

/** What a mapper sees of one ONNX node. */
export interface MapperArgs {
  /** The node's inputs; undefined where an optional input is absent (""). */
  readonly inputs: readonly (Value | undefined)[];
  readonly attrs: Attributes;
  /** The node's output names ("" for an unused optional output). */
  readonly outputs: readonly string[];
}

/** Maps one ONNX node to the values of its outputs, in order. */
export type Mapper = (ctx: ImportContext, args: MapperArgs) => Value[];

/** The constant behind a value, if it is one. */
export function constOf(value: Value | undefined): ConstTensor | undefined {
  return value?.kind === "const" ? value.tensor : undefined;
}

/** The constant behind a value; fails when the value is computed at run time. */
export function requireConst(
  ctx: ImportContext,
  value: Value | undefined,
  role: string,
): ConstTensor {
  if (!value) return ctx.fail(`missing ${role}`);
  if (value.kind !== "const") {
    return ctx.fail(
      `its ${role} is computed from tensor values at run time; refold needs it constant (given static input shapes)`,
    );
  }
  return value.tensor;
}

/** The integer list in a constant (shapes, axes, pads). */
export function intsOf(ctx: ImportContext, value: Value | undefined, role: string): number[] {
  const tensor = requireConst(ctx, value, role);
  if (tensor.shape.length > 1) ctx.fail(`its ${role} must be a scalar or a 1-D tensor`);
  const values = [...tensor.data];
  if (!values.every(Number.isInteger)) ctx.fail(`its ${role} holds non-integers [${values}]`);
  return values;
}

/** The shape of any value. */
export function shapeOf(value: Value): readonly number[] {
  if (value.kind === "const") return value.tensor.shape;
  if (value.kind === "node") return value.node.type.shape;
  const [t, l, b, r] = value.pads;
  const [n, c, h, w] = value.node.type.shape;
  return [n, c, h + t + b, w + l + r];
}

/** The first output's name, used to name folded constants. */
export function outName(args: MapperArgs): string {
  return args.outputs[0] ?? "";
}

/** A mapper for ops refold evaluates only on constants (shape arithmetic). */
export function foldOnly(op: string, fold: Mapper): Mapper {
  return (ctx, args) => {
    if (!args.inputs.every((input) => input === undefined || input.kind === "const")) {
      ctx.fail(
        `${op} on a tensor computed at run time is not supported; refold folds it only on constants`,
      );
    }
    return fold(ctx, args);
  };
}

/**
 * Fails unless a constant of `shape` can be computed: dimensions are integers
 * >= 0 and there are at most 2^30 elements. Folding checks this before it
 * allocates, so an absurd ConstantOfShape or Expand is an error, not a crash.
 */
export function checkConstShape(ctx: ImportContext, shape: readonly number[], what: string): void {
  if (!shape.every((dim) => Number.isSafeInteger(dim) && dim >= 0)) {
    ctx.fail(`${what} [${shape}] is not a shape: dimensions must be integers >= 0`);
  }
  const size = sizeOf(shape);
  if (!(size <= MAX_TENSOR_ELEMENTS)) {
    ctx.fail(`${what} [${shape}] has ${size} elements, more than 2^30`);
  }
}
