/**
 * Source ops: graph inputs and named constants (weights). Their type comes
 * from their attributes; their values come from outside the op.
 */
import { RefoldError } from "../errors.ts";
import { type DType, DTYPES, isValidShape } from "../types.ts";
import { fail, type OpDef } from "./_shared.ts";

/** A graph input, fed by the caller. */
export interface InputAttrs {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/** A named constant. Its data lives on the node, not in the attributes. */
export interface WeightAttrs {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
}

function sourceShape(op: string) {
  return (attrs: InputAttrs | WeightAttrs): number[] => {
    if (typeof attrs.name !== "string" || attrs.name === "") {
      fail(op, attrs, [], "needs a non-empty name");
    }
    if (!DTYPES.includes(attrs.dtype)) fail(op, attrs, [], `unknown dtype ${attrs.dtype}`);
    if (!isValidShape(attrs.shape)) {
      fail(op, attrs, [], "shape must be positive integers totalling at most 2^30 elements");
    }
    return [...attrs.shape];
  };
}

function noEvaluation(op: string) {
  return (attrs: InputAttrs | WeightAttrs): never => {
    throw new RefoldError(`${op} "${attrs.name}" has no reference semantics; it is a source`);
  };
}

/** Graph inputs. */
export const input: OpDef<InputAttrs> = {
  arity: [0, 0],
  shape: sourceShape("input"),
  evaluate: noEvaluation("input"),
  flops: () => 0,
};

/** Named constants. */
export const weight: OpDef<WeightAttrs> = {
  arity: [0, 0],
  shape: sourceShape("weight"),
  evaluate: noEvaluation("weight"),
  flops: () => 0,
};
