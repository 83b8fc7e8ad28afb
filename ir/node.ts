/**
 * The IR's one node type: an op, its input nodes, its attributes and its
 * inferred type. Nodes are immutable; a rewrite builds new ones. A graph is
 * its named inputs and outputs; everything else is reachable from those.
 */
import { RefoldError } from "./errors.ts";
import { type OpAttrs, type OpName, OPS } from "./ops/mod.ts";
import { type DType, sizeOf, type TensorType } from "./types.ts";

/** One value of the graph. */
export interface Node<O extends OpName = OpName> {
  readonly op: O;
  readonly inputs: readonly Node[];
  readonly attrs: Readonly<OpAttrs[O]>;
  readonly type: TensorType;
  /** The constant's values; present on weight nodes only. */
  readonly data?: Float32Array;
}

/** A named graph output. */
export interface GraphOutput {
  readonly name: string;
  readonly node: Node;
}

/** A whole model: named inputs and outputs. */
export interface Graph {
  readonly name: string;
  readonly inputs: readonly Node<"input">[];
  readonly outputs: readonly GraphOutput[];
}

/**
 * Builds a node, running the op's shape rule. Throws a ShapeError (naming the
 * op, attributes and input types) when the inputs do not fit.
 */
export function makeNode<O extends OpName>(
  op: O,
  inputs: readonly Node[],
  attrs: OpAttrs[O],
  data?: Float32Array,
): Node<O> {
  const def = OPS[op];
  const [min, max] = def.arity;
  if (inputs.length < min || inputs.length > max) {
    const expected = min === max ? `${min}` : `${min} to ${max}`;
    throw new RefoldError(`${op} takes ${expected} inputs, got ${inputs.length}`);
  }
  const inputTypes = inputs.map((input) => input.type);
  const shape = def.shape(attrs, inputTypes);
  const dtype: DType = inputs[0]?.type.dtype ??
    (attrs as { dtype?: DType }).dtype ?? "f32";
  const node = { op, inputs: Object.freeze([...inputs]), attrs, type: { dtype, shape }, data };
  return Object.freeze(node) as Node<O>;
}

/** A weight node holding `data`, checked against `shape`. */
export function makeWeight(
  name: string,
  shape: readonly number[],
  data: Float32Array,
): Node<"weight"> {
  const node = makeNode("weight", [], { name, shape, dtype: "f32" }, data);
  if (data.length !== sizeOf(shape)) {
    throw new RefoldError(
      `weight "${name}" has ${data.length} values, its shape [${shape}] needs ${sizeOf(shape)}`,
    );
  }
  return node;
}

/** A graph input node. */
export function makeInput(
  name: string,
  shape: readonly number[],
  dtype: DType = "f32",
): Node<"input"> {
  return makeNode("input", [], { name, shape, dtype });
}

/** Narrows a node to one op. */
export function isOp<O extends OpName>(node: Node, op: O): node is Node<O> {
  return node.op === op;
}
