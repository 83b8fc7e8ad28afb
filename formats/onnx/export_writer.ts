/**
 * The model being written by the ONNX export: nodes, initializers and the
 * ONNX name of every IR value, each name given once. Weights are written
 * where first read, in the storage their plan gives (export_weights.ts).
 */
import { type Node, RefoldError, type WeightStorage } from "../../ir/mod.ts";
import {
  type AttributeProto,
  AttributeType,
  DataType,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from "./proto.ts";
import { floatInitializer, int64Initializer } from "./tensor.ts";

/** An attribute value: an int, a float (boxed, so that 0.0 stays a float), or ints. */
export type Attr = number | { readonly float: number } | readonly number[];

function attribute(name: string, value: Attr): AttributeProto {
  if (typeof value === "number") return { name, type: AttributeType.INT, i: value };
  if ("float" in value) return { name, type: AttributeType.FLOAT, f: value.float };
  return { name, type: AttributeType.INTS, ints: [...value] };
}

/** A float32 graph input or output of static shape. */
export function valueInfo(name: string, shape: readonly number[]): ValueInfoProto {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: DataType.FLOAT,
        shape: { dim: shape.map((d) => ({ dim_value: d })) },
      },
    },
  };
}

/** Accumulates the nodes and initializers of the model being written. */
export class Writer {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly names = new Map<Node, string>();
  /** Weights already written in a layout other than their own, by node and layout. */
  readonly arranged = new Map<Node, Map<string, string>>();
  readonly #used = new Set<string>();

  /**
   * `storage`: how each weight is stored; `writeWeight` writes one in a layout and
   * returns the name of its f32 value.
   */
  constructor(
    readonly storage: ReadonlyMap<Node<"weight">, WeightStorage>,
    readonly writeWeight: (w: Writer, node: Node<"weight">, layout: WeightLayout) => string,
  ) {}

  /** The ONNX name of a node's value; a weight is written on first use, in its own layout. */
  value(node: Node): string {
    const known = this.names.get(node);
    if (known !== undefined) return known;
    if (node.op !== "weight") throw new RefoldError(`internal: ${node.op} read before written`);
    const written = this.writeWeight(this, node, { kind: "rows" });
    this.names.set(node, written);
    return written;
  }

  /** A weight rearranged into `layout` (written once per layout). */
  weightIn(node: Node<"weight">, layout: WeightLayout): string {
    if (layout.kind === "rows") return this.value(node);
    const key = JSON.stringify(layout);
    const known = this.arranged.get(node)?.get(key);
    if (known !== undefined) return known;
    const written = this.writeWeight(this, node, layout);
    this.arranged.set(node, (this.arranged.get(node) ?? new Map()).set(key, written));
    return written;
  }

  /** The names of all inputs of `node`. */
  inputs(node: Node): string[] {
    return node.inputs.map((input) => this.value(input));
  }

  /** Reserves `base` or the first free `base_2`, `base_3`... */
  unique(base: string): string {
    // ONNX stores names as UTF-8, where a lone surrogate would come back as U+FFFD.
    if (!base.isWellFormed()) {
      throw new RefoldError(
        `ONNX export: the name ${JSON.stringify(base)} is not well-formed Unicode`,
      );
    }
    let name = base;
    for (let n = 2; this.#used.has(name); n++) name = `${base}_${n}`;
    this.#used.add(name);
    return name;
  }

  /** Adds a node; returns its first output's name. */
  add(
    op: string,
    inputs: readonly string[],
    attrs: Record<string, Attr> = {},
    output?: string,
  ): string {
    return this.addMany(op, inputs, 1, attrs, output)[0];
  }

  /** Adds a node with `count` outputs; returns their names. */
  addMany(
    op: string,
    inputs: readonly string[],
    count: number,
    attrs: Record<string, Attr> = {},
    output?: string,
  ): string[] {
    const base = `${op.toLowerCase()}_${this.nodes.length}`;
    const outputs = Array.from(
      { length: count },
      (_, i) => i === 0 && output !== undefined ? output : this.unique(i ? `${base}_${i}` : base),
    );
    this.nodes.push({
      op_type: op,
      name: `${op}_${this.nodes.length}`,
      input: [...inputs],
      output: outputs,
      attribute: Object.entries(attrs).map(([name, value]) => attribute(name, value)),
    });
    return outputs;
  }

  /** Adds a float32 initializer. */
  floats(base: string, shape: readonly number[], data: Float32Array): string {
    const name = this.unique(base);
    this.initializers.push(floatInitializer(name, shape, data));
    return name;
  }

  /** Adds an initializer of another element type, from its little-endian bytes. */
  tensor(base: string, shape: readonly number[], dataType: number, raw: Uint8Array): string {
    const name = this.unique(base);
    this.initializers.push({ name, dims: [...shape], data_type: dataType, raw_data: raw });
    return name;
  }

  /** Adds an int64 vector initializer (shapes). */
  ints(base: string, values: readonly number[]): string {
    const name = this.unique(base);
    this.initializers.push(int64Initializer(name, values));
    return name;
  }
}

/**
 * The layout a node reads a kernel in: the IR's own [N, ...] rows (Gemm,
 * Conv), transposed [K, N] (MatMul), or grouped [g, K/g, N/g] (batched
 * MatMul of a grouped FC).
 */
export type WeightLayout =
  | { readonly kind: "rows" }
  | { readonly kind: "transposed" }
  | { readonly kind: "grouped"; readonly groups: number };
