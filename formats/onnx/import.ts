/**
 * ONNX import: decodes a model, fixes its input shapes (a symbolic or, with
 * --batch, a baked first dimension takes the batch size; graph_inputs.ts), walks the nodes in
 * file order through the op mappers, folding every constant computation on the
 * way, and returns a verified IR graph whose weights keep their initializer
 * names. Refuses, with one line naming the file, node, op type and opset:
 * opsets outside 11-18, ops outside the default domain or the mapper table,
 * non-float inputs, symbolic dimensions other than the first, and shape
 * computations that depend on tensor values.
 */
import { type Graph, type GraphOutput, oneLine, RefoldError, verifyGraph } from "../../ir/mod.ts";
import { basename, dirname } from "node:path";
import { constValue, ImportContext, type Value } from "./context.ts";
import { recognizeGelu } from "./gelu.ts";
import type { Mapper } from "./mapper.ts";
import { arityProblem } from "./arity.ts";
import { MATH_MAPPERS } from "./ops_math.ts";
import { MATMUL_MAPPERS } from "./ops_matmul.ts";
import { NN_MAPPERS } from "./ops_nn.ts";
import { SHAPE_MAPPERS } from "./ops_shape.ts";
import {
  Attributes,
  decodeModel,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  toInt,
} from "./proto.ts";
import { readInputs } from "./graph_inputs.ts";
import { readTensor } from "./tensor.ts";

/** Options of importOnnx. */
export interface ImportOptions {
  /** The file name, for messages; external data is looked up beside it by default. */
  readonly file: string;
  /** Batch size for a symbolic first input dimension (default 1) or to replace a baked one. */
  readonly batch?: number;
  /** Directory of external data files (default: the directory of `file`); they must lie inside it. */
  readonly externalDataDir?: string;
  /** Called with the real path of every file read (external data; loadOnnx adds the model). */
  readonly onFile?: (path: string) => void;
  /** Static shapes for inputs by name, for symbolic dimensions (--input-shape). */
  readonly inputShapes?: Readonly<Record<string, readonly number[]>>;
}

/** The opsets of the default domain refold reads. */
export const OPSET_RANGE: readonly [number, number] = [11, 18];

/** Every ONNX op type refold maps, by name. */
export const MAPPERS: Readonly<Record<string, Mapper>> = {
  ...SHAPE_MAPPERS,
  ...MATH_MAPPERS,
  ...NN_MAPPERS,
  ...MATMUL_MAPPERS,
};

function defaultOpset(model: ModelProto, file: string): number {
  const entry = (model.opset_import ?? []).find((e) => !e.domain || e.domain === "ai.onnx");
  if (!entry) {
    throw new RefoldError("the model imports no opset of the default ONNX domain", { file });
  }
  const version = toInt(entry.version);
  const [low, high] = OPSET_RANGE;
  if (version < low || version > high) {
    throw new RefoldError(
      `opset ${version} is not supported (refold reads opsets ${low} to ${high})`,
      { file },
    );
  }
  return version;
}

/**
 * Refuses a model with more than one node whose op refold does not map, in
 * one message listing them all (one such node gets mapNode's message, which
 * says where it is).
 */
function checkOpsSupported(nodes: readonly NodeProto[], file: string): void {
  const missing = new Map<string, string[]>();
  let total = 0;
  nodes.forEach((node, index) => {
    const op = node.op_type ?? "";
    const foreign = node.domain && node.domain !== "ai.onnx";
    if (!foreign && Object.hasOwn(MAPPERS, op)) return;
    const key = foreign ? `${node.domain}.${op}` : op;
    const where = node.name ? `#${index} "${node.name}"` : `#${index}`;
    missing.set(key, [...(missing.get(key) ?? []), where]);
    total++;
  });
  if (total < 2) return;
  const list = [...missing].map(([op, at]) =>
    `${op} (node${at.length > 1 ? "s" : ""} ${at.slice(0, 3).join(", ")}${
      at.length > 3 ? `, and ${at.length - 3} more` : ""
    })`
  );
  throw new RefoldError(
    `${total} nodes use ops refold does not map: ${list.join(", ")} ` +
      "(docs/onnx.md lists the ops refold maps)",
    { file },
  );
}

function describe(node: NodeProto, index: number, opset: number): string {
  const name = node.name ? ` "${node.name}"` : "";
  return `node #${index}${name} (${node.op_type}, opset ${opset})`;
}

function mapNode(ctx: ImportContext, node: NodeProto, values: Map<string, Value>): void {
  const op = node.op_type ?? "";
  if (node.domain && node.domain !== "ai.onnx") {
    ctx.fail(`op ${node.domain}.${op} is not supported (only the default ONNX domain)`);
  }
  // Own keys only: "toString" or "constructor" must not find Object.prototype's.
  const mapper = Object.hasOwn(MAPPERS, op)
    ? MAPPERS[op]
    : ctx.fail(`unsupported op "${op}" (docs/onnx.md lists the ops refold maps)`);
  const arity = arityProblem(op, (node.input ?? []).length);
  if (arity) ctx.fail(arity);
  const inputs = (node.input ?? []).map((name) => {
    if (name === "") return undefined;
    return values.get(name) ??
      ctx.fail(`input "${name}" is not produced by an earlier node or initializer`);
  });
  const outputs = node.output ?? [];
  let results: Value[];
  try {
    results = mapper(ctx, { inputs, attrs: new Attributes(node), outputs });
  } catch (error) {
    if (!(error instanceof RefoldError)) {
      // A bug in refold, not in the model: it stays an internal error (exit 70), located.
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`${ctx.file}: ${ctx.where}: ${message}`, { cause: error });
    }
    if (error.location.node) throw error;
    // Re-locate an error raised below the mapper (say, by a tensor decoder) at this node.
    const { file } = error.location;
    return ctx.fail(file ? error.message.slice(oneLine(file).length + 2) : error.message);
  }
  outputs.forEach((name, i) => {
    if (name === "") return;
    if (values.has(name)) {
      ctx.fail(`output "${name}" is already defined earlier; ONNX names each value once`);
    }
    values.set(name, results[i] ?? ctx.fail(`output ${i} ("${name}") is not supported`));
  });
}

/** Imports an ONNX model held in memory. */
export function importOnnx(bytes: Uint8Array, options: ImportOptions): Graph {
  const { file } = options;
  if (options.batch !== undefined && !(Number.isSafeInteger(options.batch) && options.batch >= 1)) {
    throw new RefoldError(`batch must be a positive integer, got ${options.batch}`, { file });
  }
  const model = decodeModel(bytes, file);
  const opset = defaultOpset(model, file);
  const graph = model.graph!;
  const source = {
    file,
    externalDataDir: options.externalDataDir ?? dirname(file),
    onFile: options.onFile,
  };
  const values = new Map<string, Value>();
  const initializerValues = readInitializers(graph, source, values);
  checkOpsSupported(graph.node ?? [], file);
  const irVersion = toInt(model.ir_version ?? 0);
  const { inputs, batchOverride } = readInputs(graph, irVersion, options, values);
  const ctx = new ImportContext({ source, opset, batchOverride, initializerValues });
  (graph.node ?? []).forEach((node, index) => {
    ctx.where = describe(node, index, opset);
    mapNode(ctx, node, values);
  });
  ctx.where = "";
  const outputs: GraphOutput[] = (graph.output ?? []).map((info) => {
    const name = info.name ?? "";
    const value = values.get(name) ?? ctx.fail(`graph output "${name}" is never computed`);
    return { name, node: ctx.node(value, `graph output "${name}"`) };
  });
  if (outputs.length === 0) ctx.fail("the graph has no outputs");
  const name = basename(file).replace(/\.onnx$/i, "") || graph.name || "model";
  const result = recognizeGelu({ name, inputs, outputs });
  verifyGraph(result, file);
  return result;
}

/** The initializers as constants in `values`, each name once; returns how many values they hold. */
function readInitializers(
  graph: GraphProto,
  source: Parameters<typeof readTensor>[1],
  values: Map<string, Value>,
): number {
  let initializerValues = 0;
  for (const initializer of graph.initializer ?? []) {
    const name = initializer.name ?? "";
    if (values.has(name)) {
      throw new RefoldError(`initializer "${name}" is declared twice; ONNX names each value once`, {
        file: source.file,
      });
    }
    const tensor = readTensor(initializer, source);
    initializerValues += tensor.data.length;
    values.set(name, constValue(tensor));
  }
  return initializerValues;
}

/** Reads and imports an ONNX file; external data is looked up beside it. */
export async function loadOnnx(
  path: string,
  options: Omit<ImportOptions, "file"> = {},
): Promise<Graph> {
  let bytes: Uint8Array;
  try {
    // Reading a FIFO or a device would block or never end: only regular files are models.
    if (!(await Deno.stat(path)).isFile) throw new RefoldError("is not a file", { file: path });
    bytes = await Deno.readFile(path);
    options.onFile?.(path);
  } catch (error) {
    if (error instanceof RefoldError) throw error;
    const reason = error instanceof Deno.errors.NotFound
      ? "file not found"
      : `cannot read: ${(error as Error).message.replace(/ \(os error \d+\).*$/, "")}`;
    throw new RefoldError(reason, { file: path });
  }
  return importOnnx(bytes, { ...options, file: path });
}
