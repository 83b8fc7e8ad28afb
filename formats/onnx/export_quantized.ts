/**
 * `--quantize int8` for ONNX: linear and conv2d layers computed in int8 with
 * dynamic quantization, in the standard form onnxruntime's own
 * quantize_dynamic writes (and fuses into its int8 kernels):
 *
 *   x -> DynamicQuantizeLinear -> x_q (uint8), x_scale, x_zero_point
 *   MatMulInteger(x_q, W_q, x_zero_point)       (ConvInteger for conv2d)
 *   -> int32 -> Cast to float -> Mul by x_scale * w_scale -> Add bias
 *
 * Activations: asymmetric uint8, one scale and zero point per tensor,
 * computed at run time (no calibration). Weights: symmetric int8 with one
 * scale per output channel (ir/quantize.ts), so they need no zero point.
 * A grouped FC is one batched MatMulInteger, as in the f32 export.
 *
 * Which layers: those whose kernel is a weight of at least `minWeights`
 * elements (default DEFAULT_MIN_QUANTIZED_WEIGHTS); smaller ones gain
 * nothing from int8 (the quantization of their input costs as much as
 * their product) and stay f32.
 */
import { type Node, sizeOf } from "../../ir/mod.ts";
import { DataType } from "./proto.ts";
import { writeInt8Kernel } from "./export_weights.ts";
import type { Writer } from "./export_writer.ts";

/** Layers with kernels of fewer elements stay f32 unless the rule says otherwise. */
export const DEFAULT_MIN_QUANTIZED_WEIGHTS = 1024;

/** Which layers `--quantize int8` computes in int8. */
export interface QuantizeRule {
  /** Kernels of at least this many elements (default DEFAULT_MIN_QUANTIZED_WEIGHTS). */
  readonly minWeights?: number;
}

/** The linear and conv2d layers of `nodes` that the rule quantizes. */
export function quantizedLayers(
  nodes: readonly Node[],
  rule: QuantizeRule,
): Set<Node<"linear" | "conv2d">> {
  const minWeights = rule.minWeights ?? DEFAULT_MIN_QUANTIZED_WEIGHTS;
  const layers = new Set<Node<"linear" | "conv2d">>();
  for (const node of nodes) {
    if (node.op !== "linear" && node.op !== "conv2d") continue;
    const kernel = node.inputs[1];
    if (kernel.op === "weight" && sizeOf(kernel.type.shape) >= minWeights) layers.add(node);
  }
  return layers;
}

/** x as uint8 with its scale and zero point. */
function quantizeInput(w: Writer, x: Node): [string, string, string] {
  const [q, scale, zeroPoint] = w.addMany("DynamicQuantizeLinear", [w.value(x)], 3);
  return [q, scale, zeroPoint];
}

/** float(acc) * (x_scale * w_scale): int32 accumulators back to real values. */
function rescale(
  w: Writer,
  acc: string,
  inputScale: string,
  scales: { name: string; shape: number[]; data: Float32Array },
  output?: string,
): string {
  const weightScale = w.floats(scales.name, scales.shape, scales.data);
  const scale = w.add("Mul", [inputScale, weightScale]);
  return w.add("Mul", [w.add("Cast", [acc], { to: DataType.FLOAT }), scale], {}, output);
}

/** A linear layer in int8; the weight is a constant (quantizedLayers checks). */
export function quantizedLinear(w: Writer, node: Node<"linear">, out: string): void {
  const [xNode, wNode, bNode] = node.inputs;
  const kernel = wNode as Node<"weight">;
  const [n, kg] = kernel.type.shape;
  const groups = node.attrs.groups;
  const name = kernel.attrs.name;
  const [xq, xScale, xZero] = quantizeInput(w, xNode);
  const productOut = bNode ? undefined : out;
  let product: string;
  if (groups === 1) {
    const { values, scales } = writeInt8Kernel(w, kernel, { kind: "transposed" });
    const acc = w.add("MatMulInteger", [xq, values, xZero]);
    const scaleSpec = { name: `${name}_scale`, shape: [n], data: scales };
    product = rescale(w, acc, xScale, scaleSpec, productOut);
  } else {
    const ng = n / groups, rows = sizeOf(xNode.type.shape.slice(0, -1));
    const layout = { kind: "grouped", groups } as const;
    const { values, scales } = writeInt8Kernel(w, kernel, layout);
    const split = w.add("Reshape", [xq, w.ints("shape", [rows, groups, kg])]);
    const byGroup = w.add("Transpose", [split], { perm: [1, 0, 2] });
    const acc = w.add("MatMulInteger", [byGroup, values, xZero]);
    const scaleSpec = { name: `${name}_scale`, shape: [groups, 1, ng], data: scales };
    const scaled = rescale(w, acc, xScale, scaleSpec);
    const back = w.add("Transpose", [scaled], { perm: [1, 0, 2] });
    product = w.add("Reshape", [back, w.ints("shape", node.type.shape)], {}, productOut);
  }
  if (bNode) w.add("Add", [product, w.value(bNode)], {}, out);
}

/** A conv2d layer in int8 (ConvInteger pads with the input's zero point, so with real 0). */
export function quantizedConv(w: Writer, node: Node<"conv2d">, out: string): void {
  const [xNode, kNode, bNode] = node.inputs;
  const kernel = kNode as Node<"weight">;
  const [o, , kh, kw] = kernel.type.shape;
  const { stride, pads, dilation, groups } = node.attrs;
  const [xq, xScale, xZero] = quantizeInput(w, xNode);
  const { values, scales } = writeInt8Kernel(w, kernel, { kind: "rows" });
  const acc = w.add("ConvInteger", [xq, values, xZero], {
    kernel_shape: [kh, kw],
    strides: stride,
    pads,
    dilations: dilation,
    group: groups,
  });
  const scaleSpec = { name: `${kernel.attrs.name}_scale`, shape: [o, 1, 1], data: scales };
  const product = rescale(w, acc, xScale, scaleSpec, bNode ? undefined : out);
  if (!bNode) return;
  const bias = w.add("Reshape", [w.value(bNode), w.ints("shape", [o, 1, 1])]);
  w.add("Add", [product, bias], {}, out);
}
