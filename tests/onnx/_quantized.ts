/**
 * An independent simulation of what `--quantize int8` ONNX computes, for the
 * export tests: each quantized layer's input quantized as ONNX's
 * DynamicQuantizeLinear defines it (uint8, per tensor, f32 arithmetic,
 * rounding half to even), its kernel quantized per output channel, the
 * product taken exactly in integers with the op's own reference semantics,
 * then scaled and biased as the exported model does. Other nodes run as the
 * interpreter runs them.
 */
import {
  evaluateNode,
  type Graph,
  type Node,
  quantizeRows,
  roundHalfEven,
  type Tensor,
  topoOrder,
} from "../../ir/mod.ts";

/** x as ONNX DynamicQuantizeLinear quantizes it, minus the zero point (exact integers), and its scale. */
export function dynamicQuantize(data: ArrayLike<number>): { centred: Float64Array; scale: number } {
  let low = 0, high = 0;
  for (let i = 0; i < data.length; i++) {
    low = Math.min(low, Math.fround(data[i]));
    high = Math.max(high, Math.fround(data[i]));
  }
  // An all-zero tensor has no range; ONNX Runtime then takes scale 1 (zero point 0).
  const scale = high === low ? 1 : Math.fround(Math.fround(high - low) / 255);
  const zero = Math.max(0, Math.min(255, roundHalfEven(Math.fround(-low / scale))));
  const centred = new Float64Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const q = Math.max(0, Math.min(255, roundHalfEven(Math.fround(data[i] / scale)) + zero));
    centred[i] = q - zero;
  }
  return { centred, scale };
}

function quantizedLayer(node: Node<"linear" | "conv2d">, inputs: Tensor[]): Float64Array {
  const [x, kernel, bias] = inputs;
  const { centred, scale } = dynamicQuantize(x.data);
  const channels = kernel.shape[0];
  const { values, scales } = quantizeRows(kernel.data, channels);
  const integers = evaluateNode(
    { ...node, inputs: node.inputs.slice(0, 2) } as Node,
    [{ shape: x.shape, data: centred }, { shape: kernel.shape, data: Float64Array.from(values) }],
  );
  // The channel of each output: the last axis of linear, axis 1 of conv2d's NCHW.
  const shape = node.type.shape;
  const inner = node.op === "linear" ? 1 : shape[2] * shape[3];
  const out = new Float64Array(integers.length);
  for (let i = 0; i < integers.length; i++) {
    const channel = Math.floor(i / inner) % channels;
    const product = Math.fround(Math.fround(integers[i]) * Math.fround(scale * scales[channel]));
    out[i] = bias ? Math.fround(product + bias.data[channel]) : product;
  }
  return out;
}

/** Runs `graph` with the layers in `quantized` computed as the int8 ONNX model computes them. */
export function simulateQuantized(
  graph: Graph,
  quantized: ReadonlySet<Node>,
  feeds: Record<string, Float32Array>,
): Record<string, Float64Array> {
  const values = new Map<Node, Tensor>();
  for (const node of topoOrder(graph)) {
    const inputs = node.inputs.map((input) => values.get(input)!);
    const data = node.op === "input"
      ? feeds[node.attrs.name]
      : quantized.has(node)
      ? quantizedLayer(node as Node<"linear" | "conv2d">, inputs)
      : evaluateNode(node, inputs);
    values.set(node, { shape: node.type.shape, data });
  }
  return Object.fromEntries(
    graph.outputs.map(({ name, node }) => [name, Float64Array.from(values.get(node)!.data)]),
  );
}
