/**
 * The IR's one node type: an op, its input nodes, its attributes and its
 * inferred type. Nodes are immutable; a rewrite builds new ones. A graph is
 * its named inputs and outputs; everything else is reachable from those.
 */
import { RefoldError } from "./errors.ts";
import { type OpAttrs, type OpName, OPS, REINTERPRET_OPS, VIEW_OPS } from "./ops/mod.ts";
import { type DType, sizeOf, type TensorType } from "./types.ts";

/** One value of the graph computed by op `O`. */
export interface NodeOf<O extends OpName> {
  readonly op: O;
  readonly inputs: readonly Node[];
  readonly attrs: Readonly<OpAttrs[O]>;
  readonly type: TensorType;
  /** The constant's values; present on weight nodes only. */
  readonly data?: Float32Array;
}

/**
 * One value of the graph: a union over the ops in `O` (all by default), so
 * that `node.op === "conv2d"` narrows `node.attrs` to conv2d's attributes.
 */
export type Node<O extends OpName = OpName> = Extract<AnyNode, { readonly op: O }>;

type AnyNode = { [K in OpName]: NodeOf<K> }[OpName];

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
  return Object.freeze(node) as unknown as Node<O>;
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

/** True for reshape, transpose and flatten: a strided view of the input (see VIEW_OPS). */
export function isView(node: Node): node is Node<"reshape" | "transpose" | "flatten"> {
  return VIEW_OPS.has(node.op as never);
}

/** True for reshape and flatten: the input's row-major order under new dims (see REINTERPRET_OPS). */
export function isReinterpret(node: Node): node is Node<"reshape" | "flatten"> {
  return REINTERPRET_OPS.has(node.op as never);
}

/** Narrows a node to one op. */
export function isOp<O extends OpName>(node: Node, op: O): node is Node<O> {
  return node.op === op;
}

/** `node` as an `op` node; throws when it is not one (a caller's precondition, so a bug). */
export function expectOp<O extends OpName>(node: Node, op: O): Node<O> {
  if (!isOp(node, op)) throw new Error(`internal: expected ${op}, found ${node.op}`);
  return node;
}
