/**
 * The graph inputs of an ONNX model: which are inputs (not initializers, by
 * the IR version's rule), their static shapes (a symbolic or, with --batch,
 * a baked first dimension takes the batch size; --input-shape fixes the
 * others), and the baked batch size to replace in reshape targets.
 */
import { isValidShape, makeInput, type Node, RefoldError } from "../../ir/mod.ts";
import { nodeValue, type Value } from "./context.ts";
import type { ImportOptions } from "./import.ts";
import {
  DataType,
  type DimensionProto,
  type GraphProto,
  toInt,
  type ValueInfoProto,
} from "./proto.ts";
import { dataTypeName } from "./tensor.ts";

/**
 * The graph inputs that are not initializers, with their static shapes, added
 * to `values`; and the baked batch size to replace, when --batch changes one.
 */
export function readInputs(
  graph: GraphProto,
  irVersion: number,
  options: ImportOptions,
  values: Map<string, Value>,
): { inputs: Node<"input">[]; batchOverride?: [number, number] } {
  const { file } = options;
  const inputs: Node<"input">[] = [];
  let batchOverride: [number, number] | undefined;
  const initializers = new Set(values.keys());
  for (const info of graph.input ?? []) {
    if (initializers.has(info.name ?? "")) {
      if (irVersion < 4) continue; // before IR version 4 every initializer is listed as an input
      // From IR version 4 on, an input's initializer is only its default: the caller may feed it.
      throw new RefoldError(
        `input "${info.name}" is also an initializer, which at IR version ${irVersion} makes ` +
          "it an input with a default value, not a constant; re-export without " +
          "keep_initializers_as_inputs (or drop it from the graph inputs) to compile it as a weight",
        { file },
      );
    }
    if (!info.name) throw new RefoldError("a graph input has no name", { file });
    if (values.has(info.name)) {
      throw new RefoldError(`input "${info.name}" is declared twice`, { file });
    }
    const { shape, baked } = inputShape(info, options);
    if (!isValidShape(shape)) {
      throw new RefoldError(`input "${info.name}" has shape [${shape}], not a valid shape`, {
        file,
      });
    }
    if (baked !== undefined && baked !== shape[0]) batchOverride ??= [baked, shape[0]];
    const input = makeInput(info.name ?? "", shape);
    inputs.push(input);
    values.set(input.attrs.name, nodeValue(input));
  }
  for (const name of Object.keys(options.inputShapes ?? {})) {
    if (!inputs.some((input) => input.attrs.name === name)) {
      throw new RefoldError(
        `--input-shape names "${name}", which is no input of the model (inputs: ${
          inputs.map((input) => JSON.stringify(input.attrs.name)).join(", ")
        })`,
        { file },
      );
    }
  }
  return { inputs, batchOverride };
}

/** The static shape of a graph input, applying the batch rules. */
function inputShape(
  info: ValueInfoProto,
  options: ImportOptions,
): { shape: number[]; baked?: number } {
  const fail = (problem: string): never => {
    throw new RefoldError(`input "${info.name}" ${problem}`, { file: options.file });
  };
  const tensorType = info.type?.tensor_type ?? fail("is not a tensor");
  if (tensorType!.elem_type !== DataType.FLOAT) {
    fail(
      `has element type ${dataTypeName(tensorType!.elem_type ?? 0)}; refold takes float32 inputs`,
    );
  }
  const given = options.inputShapes?.[info.name ?? ""];
  if (given && !tensorType!.shape?.dim) return { shape: [...given] };
  const dims = tensorType!.shape?.dim ?? fail("has no shape; re-export with a static input shape");
  if (given) return givenShape(info, dims!, given, options);
  let baked: number | undefined;
  const shape = dims!.map((dim, axis) => {
    const value = toInt(dim.dim_value);
    if (value < 0) fail(`has dimension ${axis} = ${value}; a dimension is never negative`);
    if (axis === 0) {
      if (value > 0) baked = value;
      return options.batch ?? (value > 0 ? value : 1);
    }
    if (value > 0) return value;
    const symbol = dim.dim_param ? ` ("${dim.dim_param}")` : "";
    return fail(
      `has a symbolic dimension ${axis}${symbol}; refold needs static shapes except the batch`,
    );
  });
  if (!isValidShape(shape)) {
    fail(`has shape [${shape}], more than 2^30 elements`);
  }
  return { shape, baked };
}

/** An --input-shape for an input, checked against the dimensions the model fixes. */
function givenShape(
  info: ValueInfoProto,
  dims: readonly DimensionProto[],
  given: readonly number[],
  options: ImportOptions,
): { shape: number[]; baked?: number } {
  const fail = (problem: string): never => {
    throw new RefoldError(`input "${info.name}" ${problem}`, { file: options.file });
  };
  if (dims.length !== given.length) {
    fail(`has ${dims.length} dimensions; --input-shape gives ${given.length} ([${given}])`);
  }
  if (options.batch !== undefined && options.batch !== given[0]) {
    fail(`gets batch ${options.batch} from --batch but ${given[0]} from --input-shape [${given}]`);
  }
  let baked: number | undefined;
  dims.forEach((dim, axis) => {
    const value = toInt(dim.dim_value);
    if (value > 0 && axis === 0) baked = value;
    else if (value > 0 && value !== given[axis]) {
      fail(`has dimension ${axis} fixed at ${value}; --input-shape gives ${given[axis]}`);
    }
  });
  return { shape: [...given], baked };
}
