/**
 * Weights in the exported ONNX model, stored as `--weight-dtype` says:
 *
 * - f32: a float initializer;
 * - f16: a FLOAT16 initializer followed by Cast to float;
 * - int8: an INT8 initializer, Cast to float, then Mul by the per-output-
 *   channel scales (broadcast along the output axis of the layout written).
 *
 * Cast and Mul of initializers are constants, which ONNX Runtime folds when
 * it creates the session, so the model runs at exactly f32 speed. Not
 * DequantizeLinear: ONNX Runtime keeps it unfolded (its QDQ fusions look for
 * it) and dequantizes the whole weight on every run, 70x slower than the
 * folded form on a 2048x2048 MatMul in onnxruntime-web 1.30 (measured).
 * A grouped weight's scales also span two axes of its [g, K/g, N/g] layout,
 * which per-axis DequantizeLinear cannot express before opset 21.
 */
import { encodeHalves, type Node, quantizeRows, sizeOf, type WeightStorage } from "../../ir/mod.ts";
import { DataType } from "./proto.ts";
import type { WeightLayout, Writer } from "./export_writer.ts";

type Values = Float32Array | Uint16Array | Int8Array;

function like<T extends Values>(data: T, length: number): T {
  return new (data.constructor as new (length: number) => T)(length);
}

/** The IR weight (rows of shape[0]) arranged into `layout`, with its new shape. */
export function arrange<T extends Values>(
  data: T,
  shape: readonly number[],
  layout: WeightLayout,
): { data: T; shape: number[] } {
  const n = shape[0], k = sizeOf(shape) / n;
  if (layout.kind === "rows") return { data, shape: [...shape] };
  const out = like(data, data.length);
  if (layout.kind === "transposed") {
    for (let row = 0; row < n; row++) {
      for (let col = 0; col < k; col++) out[col * n + row] = data[row * k + col];
    }
    return { data: out, shape: [k, n] };
  }
  const groups = layout.groups, ng = n / groups;
  for (let g = 0; g < groups; g++) {
    for (let o = 0; o < ng; o++) {
      for (let i = 0; i < k; i++) out[(g * k + i) * ng + o] = data[(g * ng + o) * k + i];
    }
  }
  return { data: out, shape: [groups, k, ng] };
}

/** The shape that broadcasts one value per output channel against a weight in `layout`. */
export function channelShape(shape: readonly number[], layout: WeightLayout): number[] {
  const n = shape[0];
  if (layout.kind === "rows") return [n, ...shape.slice(1).map(() => 1)];
  if (layout.kind === "transposed") return [1, n];
  return [layout.groups, 1, n / layout.groups];
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

function rawBytes(values: Uint16Array | Int8Array): Uint8Array {
  if (values instanceof Int8Array || LITTLE_ENDIAN) {
    return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  }
  const out = new Uint8Array(values.byteLength);
  const view = new DataView(out.buffer);
  values.forEach((value, i) => view.setUint16(2 * i, value, true));
  return out;
}

const SUFFIX: Record<WeightLayout["kind"], string> = {
  rows: "",
  transposed: "_T",
  grouped: "_grouped",
};

const F32_STORAGE: WeightStorage = { dtype: "f32", channels: 1 };

/** Writes a weight in `layout` as its storage says; returns the name of its f32 value. */
export function writeWeight(w: Writer, node: Node<"weight">, layout: WeightLayout): string {
  const { dtype, channels } = w.storage.get(node) ?? F32_STORAGE;
  const base = node.attrs.name + SUFFIX[layout.kind];
  const shape = node.type.shape, data = node.data!;
  if (dtype === "f32") {
    const arranged = arrange(data, shape, layout);
    return w.floats(base, arranged.shape, arranged.data);
  }
  if (dtype === "f16") {
    const arranged = arrange(encodeHalves(data), shape, layout);
    const halves = w.tensor(
      `${base}_f16`,
      arranged.shape,
      DataType.FLOAT16,
      rawBytes(arranged.data),
    );
    return w.add("Cast", [halves], { to: DataType.FLOAT }, w.unique(base));
  }
  const { values, scales } = writeInt8Kernel(w, node, layout, channels);
  const scale = w.floats(`${base}_scale`, channelShape(shape, layout), scales);
  const widened = w.add("Cast", [values], { to: DataType.FLOAT });
  return w.add("Mul", [widened, scale], {}, w.unique(base));
}

/**
 * A kernel quantized per output channel, written as an INT8 initializer in
 * `layout`; the caller applies the scales (one per output channel, IR order).
 */
export function writeInt8Kernel(
  w: Writer,
  node: Node<"weight">,
  layout: WeightLayout,
  channels = node.type.shape[0],
): { values: string; scales: Float32Array } {
  const { values, scales } = quantizeRows(node.data!, channels);
  const arranged = arrange(values, node.type.shape, layout);
  const name = w.tensor(
    `${node.attrs.name}${SUFFIX[layout.kind]}_int8`,
    arranged.shape,
    DataType.INT8,
    rawBytes(arranged.data),
  );
  return { values: name, scales };
}
