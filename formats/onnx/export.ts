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
 * Weights are stored as ExportOptions.weightDType says (export_weights.ts),
 * and `quantize` computes the large linear and conv2d layers in int8
 * (export_quantized.ts). Inputs, outputs and activations are float32.
 */
import {
  type Graph,
  type Node,
  type OpName,
  planWeightStorage,
  RefoldError,
  sizeOf,
  topoOrder,
  type WeightDType,
  type WeightStorage,
} from "../../ir/mod.ts";
import { encodeModel } from "./proto.ts";
import {
  quantizedConv,
  quantizedLayers,
  quantizedLinear,
  type QuantizeRule,
} from "./export_quantized.ts";
import { writeWeight } from "./export_weights.ts";
import { valueInfo, Writer } from "./export_writer.ts";

export { DEFAULT_MIN_QUANTIZED_WEIGHTS, type QuantizeRule } from "./export_quantized.ts";

/** Options of exportOnnx. */
export interface ExportOptions {
  /** Default-domain opset to declare, 13 to 17 (default 17); the ops written are the same. */
  readonly opset?: number;
  /** producer_name of the model (default "refold"). */
  readonly producer?: string;
  /** How weights are stored (default f32): f16 or int8 kernels, widened by Cast (and Mul). */
  readonly weightDType?: WeightDType;
  /** Compute linear and conv2d layers in int8 (true: the default rule). */
  readonly quantize?: boolean | QuantizeRule;
}

/** An exported model, with how each weight was stored and how many layers are int8. */
export interface OnnxExport {
  readonly bytes: Uint8Array;
  readonly storage: ReadonlyMap<Node<"weight">, WeightStorage>;
  readonly quantizedLayers: number;
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
  const kernel = wNode.op === "weight" ? wNode : undefined;
  let product: string;
  if (groups === 1) {
    const wt = kernel
      ? w.weightIn(kernel, { kind: "transposed" })
      : w.add("Transpose", [w.value(wNode)], { perm: [1, 0] });
    product = w.add("MatMul", [x, wt], {}, bias ? undefined : out);
  } else {
    const rows = sizeOf(xShape.slice(0, -1)), ng = n / groups;
    const wb = kernel ? w.weightIn(kernel, { kind: "grouped", groups }) : w.add(
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

/** Writes `graph` as an ONNX model (static shapes, float32 inputs and outputs). */
export function exportOnnx(graph: Graph, options: ExportOptions = {}): Uint8Array {
  return writeOnnx(graph, options).bytes;
}

/** How each weight is stored: as `weightDType` says, and int8 for the kernels of int8 layers. */
function storageOf(
  graph: Graph,
  quantized: ReadonlySet<Node<"linear" | "conv2d">>,
  weightDType: WeightDType,
): Map<Node<"weight">, WeightStorage> {
  const storage = planWeightStorage(graph, weightDType);
  for (const layer of quantized) {
    const kernel = layer.inputs[1] as Node<"weight">;
    storage.set(kernel, { dtype: "int8", channels: kernel.type.shape[0] });
  }
  return storage;
}

/** exportOnnx, also saying how each weight was stored. */
export function writeOnnx(graph: Graph, options: ExportOptions = {}): OnnxExport {
  const opset = options.opset ?? 17;
  if (!(Number.isInteger(opset) && opset >= 13 && opset <= 17)) {
    throw new RefoldError(`ONNX export writes opsets 13 to 17, not ${opset}`);
  }
  const nodes = topoOrder(graph);
  const rule = options.quantize === true ? {} : options.quantize || undefined;
  const quantized = rule ? quantizedLayers(nodes, rule) : new Set<never>();
  const storage = storageOf(graph, quantized, options.weightDType ?? "f32");
  const w = new Writer(storage, writeWeight);
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
  for (const node of nodes) {
    if (node.op === "input" || node.op === "weight") continue;
    const out = wanted.get(node) ?? w.unique(`${node.op}_${w.names.size}`);
    if (node.op === "linear" && quantized.has(node)) quantizedLinear(w, node, out);
    else if (node.op === "conv2d" && quantized.has(node)) quantizedConv(w, node, out);
    else (EMITTERS[node.op as keyof typeof EMITTERS] as Emit<OpName>)(w, node, out);
    w.names.set(node, out);
  }
  graph.outputs.forEach(({ node }, i) => {
    const name = w.value(node);
    if (name !== outputNames[i]) w.add("Identity", [name], {}, outputNames[i]);
  });
  const bytes = encodeModel({
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
  return { bytes, storage, quantizedLayers: quantized.size };
}
