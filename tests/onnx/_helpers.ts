/**
 * Shared by the ONNX tests: the fixture manifest written by
 * tests/fixtures/torch/gen_onnx.py, a tiny builder of hand-made ONNX models
 * (encoded with the same protobuf schema the importer reads), and
 * onnxruntime-web (wasm, one thread) as an independent oracle.
 */
import * as ort from "onnxruntime-web";
import {
  type AttributeProto,
  AttributeType,
  DataType,
  encodeModel,
  type TensorProto,
} from "../../formats/onnx/proto.ts";
import { fromFileUrl } from "../_path.ts";

/** The fixture directory. */
export const FIXTURES = fromFileUrl(new URL("../fixtures/onnx/", import.meta.url).href) + "/";

/** One exported file of a fixture model. */
export interface FixtureFile {
  file: string;
  opset: number;
  dynamic_batch: boolean;
  options: Record<string, string>;
  batchnorms: number;
  ops: string[];
}

/** One fixture model. */
export interface FixtureModel {
  name: string;
  input: { name: string; shape: number[] };
  output: { name: string; shape: number[] };
  parameters: number;
  files: FixtureFile[];
}

/** The models of manifest.json. */
export function fixtureModels(): FixtureModel[] {
  return JSON.parse(Deno.readTextFileSync(FIXTURES + "manifest.json")).models;
}

/** The seeded input (float32) of a model at batch 1 or 2. */
export function fixtureInput(model: string, batch: number): Float32Array {
  return new Float32Array(Deno.readFileSync(`${FIXTURES}${model}.b${batch}.input.bin`).buffer);
}

/** The training-time model's output in float64, at batch 1 or 2. */
export function fixtureExpected(model: string, batch: number): Float64Array {
  return new Float64Array(Deno.readFileSync(`${FIXTURES}${model}.b${batch}.expected.bin`).buffer);
}

/** An attribute value for `node()`: ints are INT, `{f}` FLOAT, arrays INTS, strings STRING. */
export type AttrSpec =
  | number
  | string
  | number[]
  | { f: number }
  | { floats: number[] }
  | { t: TensorProto };

function attribute(name: string, value: AttrSpec): AttributeProto {
  if (typeof value === "number") return { name, type: AttributeType.INT, i: value };
  if (typeof value === "string") {
    return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  }
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
  if ("f" in value) return { name, type: AttributeType.FLOAT, f: value.f };
  if ("floats" in value) return { name, type: AttributeType.FLOATS, floats: value.floats };
  return { name, type: AttributeType.TENSOR, t: value.t };
}

/** A node of a hand-made model. */
export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, AttrSpec>;
  name?: string;
  domain?: string;
}

/** A float32 initializer with raw_data. */
export function floats(name: string, dims: number[], values: ArrayLike<number>): TensorProto {
  const raw = new Uint8Array(new Float32Array(Array.from(values)).buffer);
  return { name, dims, data_type: DataType.FLOAT, raw_data: raw };
}

/** An int64 initializer in the typed field int64_data. */
export function int64s(name: string, values: number[], dims = [values.length]): TensorProto {
  return { name, dims, data_type: DataType.INT64, int64_data: values };
}

/** A hand-made model; input dims may be symbols (strings). */
export function onnxModel(spec: {
  opset?: number;
  inputs: [string, (number | string)[]][];
  outputs: string[];
  initializers?: TensorProto[];
  nodes: NodeSpec[];
}): Uint8Array {
  return encodeModel({
    ir_version: 8,
    opset_import: [{ domain: "", version: spec.opset ?? 17 }],
    producer_name: "refold-tests",
    graph: {
      name: "test",
      node: spec.nodes.map((n, i) => ({
        op_type: n.op,
        name: n.name ?? `${n.op.toLowerCase()}_${i}`,
        domain: n.domain ?? "",
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
      })),
      initializer: spec.initializers ?? [],
      input: spec.inputs.map(([name, dims]) => ({
        name,
        type: {
          tensor_type: {
            elem_type: DataType.FLOAT,
            shape: {
              dim: dims.map((d) => (typeof d === "number" ? { dim_value: d } : { dim_param: d })),
            },
          },
        },
      })),
      output: spec.outputs.map((name) => ({
        name,
        type: { tensor_type: { elem_type: DataType.FLOAT } },
      })),
    },
  });
}

ort.env.wasm.numThreads = 1;
ort.env.logLevel = "error";

/** Runs a model in onnxruntime-web (wasm backend, one thread). */
export async function runOrt(
  bytes: Uint8Array,
  feeds: Record<string, { data: Float32Array; shape: readonly number[] }>,
): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ["wasm"],
    logSeverityLevel: 3,
  });
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [name, { data, shape }] of Object.entries(feeds)) {
      inputs[name] = new ort.Tensor("float32", data, [...shape]);
    }
    const outputs = await session.run(inputs);
    const result: Record<string, Float32Array> = {};
    for (const [name, tensor] of Object.entries(outputs)) {
      result[name] = tensor.data as Float32Array;
    }
    return result;
  } finally {
    await session.release();
  }
}
