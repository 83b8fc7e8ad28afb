/**
 * ONNX export of a (deployed) IR graph, for runtimes other than refold's own.
 * Shapes are static, so every Reshape gets a constant target. The choices
 * that matter for speed:
 *
 * - linear on a 2-D input is Gemm (transB=1, the IR's [out, in] weight as is);
 *   on other ranks MatMul with the transposed weight, then Add;
 * - grouped linear is one batched MatMul per group set:
 *   x[..., K] -> [rows, g, K/g] -> Transpose [g, rows, K/g] -> MatMul with
 *   [g, K/g, N/g] -> Transpose back -> [..., N]; never a grouped 1x1 Conv,
 *   which ONNX Runtime runs several times slower;
 * - gelu is written as Div, Erf, Add, Mul, Mul (Gelu is opset 20), which ONNX
 *   Runtime fuses back into one kernel;
 * - batchnorm on an axis other than 1 is wrapped in two Transposes.
 *
 * Tensors are written as float32 whatever the IR dtype: weights hold f32 data.
 */
import {
  type Graph,
  type Node,
  type OpName,
  RefoldError,
  sizeOf,
  topoOrder,
} from "../../ir/mod.ts";
import {
  type AttributeProto,
  AttributeType,
  DataType,
  encodeModel,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from "./proto.ts";
import { floatInitializer, int64Initializer } from "./tensor.ts";

/** Options of exportOnnx. */
export interface ExportOptions {
  /** Default-domain opset to declare, 13 to 17 (default 17); the ops written are the same. */
  readonly opset?: number;
  /** producer_name of the model (default "refold"). */
  readonly producer?: string;
}

/** An attribute value: an int, a float (boxed, so that 0.0 stays a float), or ints. */
type Attr = number | { readonly float: number } | readonly number[];

function attribute(name: string, value: Attr): AttributeProto {
  if (typeof value === "number") return { name, type: AttributeType.INT, i: value };
  if ("float" in value) return { name, type: AttributeType.FLOAT, f: value.float };
  return { name, type: AttributeType.INTS, ints: [...value] };
}

function valueInfo(name: string, shape: readonly number[]): ValueInfoProto {
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
class Writer {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly names = new Map<Node, string>();
  readonly #used = new Set<string>();

  /** The ONNX name of a node's value; a weight becomes an initializer on first use. */
  value(node: Node): string {
    const known = this.names.get(node);
    if (known !== undefined) return known;
    if (node.op !== "weight") throw new RefoldError(`internal: ${node.op} read before written`);
    const { name, shape } = node.attrs;
    const written = this.floats(name, shape, node.data!);
    this.names.set(node, written);
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

  /** Adds a node; returns its output name. */
  add(
    op: string,
    inputs: readonly string[],
    attrs: Record<string, Attr> = {},
    output?: string,
  ): string {
    const out = output ?? this.unique(`${op.toLowerCase()}_${this.nodes.length}`);
    this.nodes.push({
      op_type: op,
      name: `${op}_${this.nodes.length}`,
      input: [...inputs],
      output: [out],
      attribute: Object.entries(attrs).map(([name, value]) => attribute(name, value)),
    });
    return out;
  }

  /** Adds a float32 initializer. */
  floats(base: string, shape: readonly number[], data: Float32Array): string {
    const name = this.unique(base);
    this.initializers.push(floatInitializer(name, shape, data));
    return name;
  }

  /** Adds an int64 vector initializer (shapes). */
  ints(base: string, values: readonly number[]): string {
    const name = this.unique(base);
    this.initializers.push(int64Initializer(name, values));
    return name;
  }
}

/** W[N, K] as W^T[K, N]. */
function transposed(data: Float32Array, n: number, k: number): Float32Array {
  const out = new Float32Array(n * k);
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < k; col++) out[col * n + row] = data[row * k + col];
  }
  return out;
}

/** W[N, K/g] as the batched [g, K/g, N/g] that MatMul multiplies each group by. */
function groupedWeight(data: Float32Array, n: number, kg: number, groups: number): Float32Array {
  const ng = n / groups;
  const out = new Float32Array(n * kg);
  for (let g = 0; g < groups; g++) {
    for (let o = 0; o < ng; o++) {
      for (let i = 0; i < kg; i++) out[(g * kg + i) * ng + o] = data[(g * ng + o) * kg + i];
    }
  }
  return out;
}

type Emit<O extends OpName> = (w: Writer, node: Node<O>, out: string) => void;

function linear(w: Writer, node: Node<"linear">, out: string) {
  const [xNode, wNode, bNode] = node.inputs;
  const [n, kg] = wNode.type.shape;
  const groups = node.attrs.groups;
  const xShape = xNode.type.shape;
  const x = w.value(xNode), bias = bNode && w.value(bNode);
  if (groups === 1 && xShape.length === 2) {
    w.add("Gemm", [x, w.value(wNode), ...(bias ? [bias] : [])], { transB: 1 }, out);
    return;
  }
  // A weight is stored in the layout MatMul wants; a computed one is rearranged at run time.
  const data = wNode.op === "weight" ? wNode.data! : undefined;
  const base = wNode.op === "weight" ? wNode.attrs.name : "";
  let product: string;
  if (groups === 1) {
    const wt = data
      ? w.floats(`${base}_T`, [kg, n], transposed(data, n, kg))
      : w.add("Transpose", [w.value(wNode)], { perm: [1, 0] });
    product = w.add("MatMul", [x, wt], {}, bias ? undefined : out);
  } else {
    const rows = sizeOf(xShape.slice(0, -1)), ng = n / groups;
    const wb = data
      ? w.floats(`${base}_grouped`, [groups, kg, ng], groupedWeight(data, n, kg, groups))
      : w.add(
        "Transpose",
        [w.add("Reshape", [w.value(wNode), w.ints("shape", [groups, ng, kg])])],
        {
          perm: [0, 2, 1],
        },
      );
    const split = w.add("Reshape", [x, w.ints("shape", [rows, groups, kg])]);
    const byGroup = w.add("Transpose", [split], { perm: [1, 0, 2] });
    const multiplied = w.add("MatMul", [byGroup, wb]);
    const back = w.add("Transpose", [multiplied], { perm: [1, 0, 2] });
    const shape = w.ints("shape", node.type.shape);
    product = w.add("Reshape", [back, shape], {}, bias ? undefined : out);
  }
  if (bias) w.add("Add", [product, bias], {}, out);
}

function batchnorm(w: Writer, node: Node<"batchnorm">, out: string) {
  const inputs = w.inputs(node);
  const { axis, epsilon } = node.attrs;
  const rank = node.type.shape.length;
  if (axis === 1) {
    w.add("BatchNormalization", inputs, { epsilon: { float: epsilon } }, out);
    return;
  }
  // Move the channel axis to 1 and back: BatchNormalization normalizes axis 1 only.
  const perm = [...Array(rank).keys()].filter((a) => a !== axis);
  perm.splice(1, 0, axis);
  const inverse = perm.map((_a, i) => perm.indexOf(i));
  const moved = w.add("Transpose", [inputs[0]], { perm });
  const normalized = w.add("BatchNormalization", [moved, ...inputs.slice(1)], {
    epsilon: { float: epsilon },
  });
  w.add("Transpose", [normalized], { perm: inverse }, out);
}

function gelu(w: Writer, node: Node<"gelu">, out: string) {
  const x = w.value(node.inputs[0]);
  const scalar = (name: string, value: number) => w.floats(name, [], Float32Array.of(value));
  const erf = w.add("Erf", [w.add("Div", [x, scalar("sqrt2", Math.SQRT2)])]);
  const shifted = w.add("Add", [erf, scalar("one", 1)]);
  w.add("Mul", [w.add("Mul", [x, shifted]), scalar("half", 0.5)], {}, out);
}

/** An op written as the ONNX op `op` with the same inputs and no attributes. */
const same = <O extends OpName>(op: string): Emit<O> => (w, node, out) =>
  void w.add(op, w.inputs(node), {}, out);

/** How each IR op is written. */
const EMITTERS: { readonly [O in Exclude<OpName, "input" | "weight">]: Emit<O> } = {
  conv2d: (w, node, out) => {
    const { stride, pads, dilation, groups } = node.attrs;
    const kernel_shape = node.inputs[1].type.shape.slice(2);
    w.add("Conv", w.inputs(node), {
      kernel_shape,
      strides: stride,
      pads,
      dilations: dilation,
      group: groups,
    }, out);
  },
  batchnorm,
  linear,
  reshape: (w, node, out) =>
    void w.add("Reshape", [w.value(node.inputs[0]), w.ints("shape", node.type.shape)], {}, out),
  transpose: (w, node, out) =>
    void w.add("Transpose", w.inputs(node), { perm: node.attrs.perm }, out),
  flatten: (w, node, out) => void w.add("Flatten", w.inputs(node), { axis: node.attrs.axis }, out),
  concat: (w, node, out) => void w.add("Concat", w.inputs(node), { axis: node.attrs.axis }, out),
  add: same("Add"),
  sub: same("Sub"),
  mul: same("Mul"),
  div: same("Div"),
  relu: same("Relu"),
  sigmoid: same("Sigmoid"),
  erf: same("Erf"),
  gelu,
  avgpool: (w, node, out) => {
    const { kernel, stride, pads, countIncludePad } = node.attrs;
    const attrs = {
      kernel_shape: kernel,
      strides: stride,
      pads,
      count_include_pad: countIncludePad ? 1 : 0,
    };
    w.add("AveragePool", w.inputs(node), attrs, out);
  },
  maxpool: (w, node, out) => {
    const { kernel, stride, pads } = node.attrs;
    w.add("MaxPool", w.inputs(node), { kernel_shape: kernel, strides: stride, pads }, out);
  },
  global_avgpool: same("GlobalAveragePool"),
};

/** Writes `graph` as an ONNX model (static shapes, float32). */
export function exportOnnx(graph: Graph, options: ExportOptions = {}): Uint8Array {
  const opset = options.opset ?? 17;
  if (!(Number.isInteger(opset) && opset >= 13 && opset <= 17)) {
    throw new RefoldError(`ONNX export writes opsets 13 to 17, not ${opset}`);
  }
  const w = new Writer();
  // Public names first: inputs and outputs keep theirs, weights and temporaries make way.
  for (const input of graph.inputs) w.names.set(input, w.unique(input.attrs.name));
  const outputNames = graph.outputs.map(({ name }) => {
    if (w.unique(name) !== name) {
      throw new RefoldError(
        `ONNX export: output "${name}" has the name of another input or output; ONNX names each value once`,
      );
    }
    return name;
  });
  const wanted = new Map<Node, string>();
  graph.outputs.forEach(({ node }, i) => {
    if (node.op !== "input" && node.op !== "weight" && !wanted.has(node)) {
      wanted.set(node, outputNames[i]);
    }
  });
  for (const node of topoOrder(graph)) {
    if (node.op === "input" || node.op === "weight") continue;
    const out = wanted.get(node) ?? w.unique(`${node.op}_${w.names.size}`);
    (EMITTERS[node.op as keyof typeof EMITTERS] as Emit<OpName>)(w, node, out);
    w.names.set(node, out);
  }
  graph.outputs.forEach(({ node }, i) => {
    const name = w.value(node);
    if (name !== outputNames[i]) w.add("Identity", [name], {}, outputNames[i]);
  });
  return encodeModel({
    ir_version: 8,
    opset_import: [{ domain: "", version: opset }],
    producer_name: options.producer ?? "refold",
    graph: {
      name: graph.name,
      node: w.nodes,
      initializer: w.initializers,
      input: graph.inputs.map((input) => valueInfo(input.attrs.name, input.type.shape)),
      output: graph.outputs.map(({ name, node }) => valueInfo(name, node.type.shape)),
    },
  });
}
