/**
 * The state of one ONNX import: what each ONNX value has become, the node
 * being mapped (for error messages), and the conversions between constants
 * and IR nodes. An ONNX value is one of
 *
 * - an IR node (the data path),
 * - a constant known at import time (initializers, Constant outputs, and
 *   everything folded from them, including all shape arithmetic), or
 * - a zero-padded node: a `Pad` waiting to be folded into the AveragePool or
 *   Conv that reads it, since the IR has no pad op.
 */
import {
  evaluateNode,
  makeNode,
  makeWeight,
  MAX_FOLDED_VALUES,
  type Node,
  type OpAttrs,
  type OpName,
  RefoldError,
  sizeOf,
} from "../../ir/mod.ts";
import { builtNodeProblem } from "../node_checks.ts";
import type { ConstTensor, TensorSource } from "./tensor.ts";

/** What an ONNX value is at import time. */
export type Value =
  | { readonly kind: "node"; readonly node: Node }
  | { readonly kind: "const"; readonly tensor: ConstTensor }
  | {
    readonly kind: "padded";
    readonly node: Node;
    /** Zero padding of the two spatial axes, [top, left, bottom, right]. */
    readonly pads: readonly [number, number, number, number];
    /** The Pad node, as error messages name it. */
    readonly where: string;
  };

/** A node value. */
export const nodeValue = (node: Node): Value => ({ kind: "node", node });

/** A constant value. */
export const constValue = (tensor: ConstTensor): Value => ({ kind: "const", tensor });

/**
 * Values all constants folded during one import may hold together, beyond
 * twice the values of the model's initializers (which transposes and scales
 * of weights legitimately copy): 128 MiB in float64.
 */
export const MAX_FOLDED_TOTAL = 2 ** 24;

/** Shared import state; one per imported file. */
export class ImportContext {
  /** Description of the ONNX node being mapped: `node "name" (#3 Conv, opset 17)`. */
  where = "";
  readonly #weights = new Map<ConstTensor, Node<"weight">>();
  readonly #weightNames = new Set<string>();
  readonly #derived = new Map<ConstTensor, Map<string, ConstTensor>>();
  /** Values constant folding may still make in this import. */
  #foldAllowance: number;
  readonly #foldTotal: number;

  /** The model file, for messages. */
  readonly file: string;
  /** The default-domain opset the model imports. */
  readonly opset: number;
  /** Where tensors' external data lives. */
  readonly source: TensorSource;
  /** When the caller overrode a batch size baked into the model: [baked, wanted]. */
  readonly batchOverride?: readonly [number, number];

  constructor(
    options: {
      source: TensorSource;
      opset: number;
      batchOverride?: readonly [number, number];
      /** Values of all initializers together. */
      initializerValues?: number;
    },
  ) {
    this.#foldTotal = MAX_FOLDED_TOTAL + 2 * (options.initializerValues ?? 0);
    this.#foldAllowance = this.#foldTotal;
    this.source = options.source;
    this.file = options.source.file;
    this.opset = options.opset;
    this.batchOverride = options.batchOverride;
  }

  /** Throws a one-line error naming the file and the node being mapped. */
  fail(problem: string): never {
    throw new RefoldError(problem, { file: this.file, node: this.where || undefined });
  }

  /**
   * Charges a constant of `values` values that is about to be folded from
   * constants of at most `largestInput` values, before anything is allocated:
   * fails, naming the node, when it is over MAX_FOLDED_VALUES and larger than
   * its inputs, or when this import's folding would pass MAX_FOLDED_TOTAL.
   */
  fold(values: number, largestInput = 0): void {
    if (!(values <= Math.max(MAX_FOLDED_VALUES, largestInput))) {
      this.fail(
        `folding it would make a constant of ${values} values from inputs of at most ` +
          `${largestInput}; refold folds constants of up to ${MAX_FOLDED_VALUES} values ` +
          "unless an input is as large",
      );
    }
    this.#foldAllowance -= values;
    if (this.#foldAllowance < 0) {
      this.fail(
        `constant folding would pass ${this.#foldTotal} values in this model ` +
          `(${MAX_FOLDED_TOTAL} plus twice its initializers); refusing to fold more`,
      );
    }
  }

  /** The IR node of a value; a float constant becomes a (shared) weight. */
  node(value: Value | undefined, role = "input"): Node {
    if (!value) return this.fail(`missing ${role}`);
    if (value.kind === "node") return value.node;
    if (value.kind === "padded") {
      return this.fail(
        `its ${role} comes from ${value.where}, a non-zero Pad; refold folds zero padding only into a following AveragePool or Conv`,
      );
    }
    return this.weight(value.tensor, role);
  }

  /** The weight node of a float constant, made once per constant. */
  weight(tensor: ConstTensor, role = "input"): Node<"weight"> {
    const known = this.#weights.get(tensor);
    if (known) return known;
    if (tensor.dtype !== "float") {
      this.fail(
        `its ${role} "${tensor.name}" is an ${tensor.dtype} tensor; refold takes integer tensors only in shape computations`,
      );
    }
    if (tensor.data.length === 0) {
      this.fail(
        `its ${role} "${tensor.name}" is empty (shape [${tensor.shape}]); refold does not ` +
          "compute on zero-size tensors",
      );
    }
    const data = tensor.data instanceof Float32Array ? tensor.data : Float32Array.from(tensor.data);
    // Checked here rather than by the final verifyGraph, so that the message names the node.
    const bad = data.findIndex((value) => !Number.isFinite(value));
    if (bad >= 0) {
      this.fail(`its ${role} "${tensor.name}" holds ${data[bad]} at flat index ${bad}`);
    }
    const weight = makeWeight(this.uniqueName(tensor.name), tensor.shape, data);
    this.#weights.set(tensor, weight);
    return weight;
  }

  /** A constant derived from `tensor` (say, its transpose), made once per `key`. */
  derive(tensor: ConstTensor, key: string, make: () => ConstTensor): ConstTensor {
    const known = this.#derived.get(tensor) ?? new Map<string, ConstTensor>();
    this.#derived.set(tensor, known);
    if (!known.has(key)) this.fold(tensor.data.length, tensor.data.length);
    const made = known.get(key) ?? make();
    known.set(key, made);
    return made;
  }

  /** `base`, or `base~2`, `base~3`... when a weight of that name exists already. */
  uniqueName(base: string): string {
    let name = base || "const";
    for (let n = 2; this.#weightNames.has(name); n++) name = `${base}~${n}`;
    this.#weightNames.add(name);
    return name;
  }

  /**
   * Builds an IR node, wrapping shape errors with the ONNX node's location.
   * When every input is a weight the result is evaluated now and becomes a
   * constant named `name`: constant subgraphs never reach the IR.
   */
  emit<O extends OpName>(
    op: O,
    inputs: readonly Node[],
    attrs: OpAttrs[O],
    name: string = op,
  ): Value {
    let node: Node<O>;
    try {
      node = makeNode(op, inputs, attrs);
    } catch (error) {
      if (error instanceof RefoldError) this.fail(error.message);
      throw error;
    }
    const problem = builtNodeProblem(node);
    if (problem) this.fail(problem);
    if (inputs.length === 0 || !inputs.every((input) => input.op === "weight")) {
      return nodeValue(node);
    }
    const largest = inputs.reduce((most, input) => Math.max(most, input.data!.length), 0);
    this.fold(sizeOf(node.type.shape), largest);
    const data = evaluateNode(
      node,
      inputs.map((input) => ({
        shape: input.type.shape,
        data: input.data!,
      })),
    );
    const tensor: ConstTensor = {
      dtype: "float",
      shape: node.type.shape,
      data: Float64Array.from(data, Math.fround),
      name,
    };
    return constValue(tensor);
  }

  /** `emit`, then the IR node of the result (for chains of ops). */
  emitNode<O extends OpName>(
    op: O,
    inputs: readonly Node[],
    attrs: OpAttrs[O],
    name: string = op,
  ): Node {
    return this.node(this.emit(op, inputs, attrs, name));
  }
}
