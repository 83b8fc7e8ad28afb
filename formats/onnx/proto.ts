/**
 * ONNX protobuf messages: decoding and encoding with protobufjs against the
 * upstream schema, the TypeScript shapes of the messages refold reads and
 * writes, and attribute accessors. int64 fields arrive as numbers or Long
 * objects depending on the value; `toInt` normalizes both.
 */
// deno-lint-ignore no-import-prefix -- versioned here so that refold runs outside its checkout (docs/cli.md)
import protobuf from "npm:protobufjs@8.8.1";
import { RefoldError } from "../../ir/mod.ts";
import { ONNX_PROTO } from "./schema.ts";

/** An int64 as protobufjs hands it over. */
export type Int64 = number | { low: number; high: number; unsigned?: boolean; toNumber(): number };

/** onnx.TensorProto.DataType values refold knows. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
} as const;

/** onnx.AttributeProto.AttributeType values. */
export const AttributeType = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  FLOATS: 6,
  INTS: 7,
} as const;

/** One key/value pair of external data or metadata. */
export interface StringEntry {
  key?: string;
  value?: string;
}

/** onnx.TensorProto, the fields refold uses. */
export interface TensorProto {
  dims?: Int64[];
  data_type?: number;
  name?: string;
  raw_data?: Uint8Array;
  float_data?: number[];
  int32_data?: number[];
  int64_data?: Int64[];
  double_data?: number[];
  data_location?: number;
  external_data?: StringEntry[];
}

/** onnx.AttributeProto. */
export interface AttributeProto {
  name?: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorProto;
  floats?: number[];
  ints?: Int64[];
}

/** onnx.NodeProto. */
export interface NodeProto {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  attribute?: AttributeProto[];
}

/** One dimension of a tensor shape: a number, a symbol, or neither. */
export interface DimensionProto {
  dim_value?: Int64;
  dim_param?: string;
}

/** onnx.ValueInfoProto (tensor types only). */
export interface ValueInfoProto {
  name?: string;
  type?: {
    tensor_type?: { elem_type?: number; shape?: { dim?: DimensionProto[] } };
  };
}

/** onnx.GraphProto. */
export interface GraphProto {
  node?: NodeProto[];
  name?: string;
  initializer?: TensorProto[];
  input?: ValueInfoProto[];
  output?: ValueInfoProto[];
  value_info?: ValueInfoProto[];
}

/** onnx.OperatorSetIdProto. */
export interface OperatorSetIdProto {
  domain?: string;
  version?: Int64;
}

/** onnx.ModelProto. */
export interface ModelProto {
  ir_version?: Int64;
  opset_import?: OperatorSetIdProto[];
  producer_name?: string;
  producer_version?: string;
  graph?: GraphProto;
}

let modelType: protobuf.Type | undefined;

function modelProtoType(): protobuf.Type {
  modelType ??= protobuf.parse(ONNX_PROTO, { keepCase: true }).root.lookupType("onnx.ModelProto");
  return modelType;
}

/** Decodes a model; a truncated or corrupt message is a one-line RefoldError naming `file`. */
export function decodeModel(bytes: Uint8Array, file: string): ModelProto {
  let model: ModelProto;
  try {
    model = modelProtoType().decode(bytes) as unknown as ModelProto;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new RefoldError(`not a valid ONNX protobuf (${reason}; truncated or corrupt file?)`, {
      file,
    });
  }
  if (!model.graph || !model.graph.node) {
    throw new RefoldError("not an ONNX model: the protobuf has no graph", { file });
  }
  return model;
}

/** Encodes a model; protobufjs checks field types on the way. */
export function encodeModel(model: ModelProto): Uint8Array {
  const type = modelProtoType();
  const problem = type.verify(model);
  if (problem) throw new RefoldError(`internal: ONNX model does not fit the schema: ${problem}`);
  return type.encode(type.fromObject(model)).finish();
}

/** An int64 field as a JavaScript number (exact up to 2^53, clamped beyond). */
export function toInt(value: Int64 | undefined): number {
  if (value === undefined) return 0;
  return typeof value === "number" ? value : value.toNumber();
}

/** The shortest decimal that rounds to the same float32 as `value`. */
export function shortestFloat32(value: number): number {
  const single = Math.fround(value);
  if (!Number.isFinite(single)) return single;
  for (let digits = 1; digits < 17; digits++) {
    const candidate = Number(single.toPrecision(digits));
    if (Math.fround(candidate) === single) return candidate;
  }
  return single;
}

/** Attribute lookup for one node. */
export class Attributes {
  readonly #byName = new Map<string, AttributeProto>();

  constructor(node: NodeProto) {
    for (const attribute of node.attribute ?? []) this.#byName.set(attribute.name ?? "", attribute);
  }

  /** True when the node sets `name`. */
  has(name: string): boolean {
    return this.#byName.has(name);
  }

  /** Names of all attributes the node sets. */
  names(): string[] {
    return [...this.#byName.keys()];
  }

  int(name: string, fallback: number): number {
    const attribute = this.#byName.get(name);
    return attribute ? toInt(attribute.i) : fallback;
  }

  /**
   * A float attribute as the shortest decimal that rounds to the stored
   * float32: the value the exporter was given (1e-5, not 9.99999974737875e-06).
   */
  float(name: string, fallback: number): number {
    const value = this.#byName.get(name)?.f;
    return value === undefined ? fallback : shortestFloat32(value);
  }

  ints(name: string): number[] | undefined {
    const attribute = this.#byName.get(name);
    return attribute ? (attribute.ints ?? []).map(toInt) : undefined;
  }

  floats(name: string): number[] | undefined {
    return this.#byName.get(name)?.floats;
  }

  string(name: string, fallback: string): string {
    const attribute = this.#byName.get(name);
    return attribute?.s ? new TextDecoder().decode(attribute.s) : fallback;
  }

  tensor(name: string): TensorProto | undefined {
    return this.#byName.get(name)?.t;
  }
}
