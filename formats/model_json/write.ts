/**
 * Writing model.json (+ model.safetensors) so that loadModel gives back a
 * graph that prints identically. Nodes are written one per line in
 * topological order, named `<op>_<k>`; weights keep their names. Files are
 * written under temporary names and renamed into place, so a failure leaves
 * no partial output.
 */
import { basename, dirname, join } from "node:path";
import { type Graph, type Node, RefoldError, topoOrder, verifyGraph } from "../../ir/mod.ts";
import { type NamedTensor, writeSafetensorsTo } from "../safetensors.ts";
import { MODEL_FORMAT, MODEL_VERSION } from "./document.ts";
import { parseModel } from "./load.ts";

/** Options of writeModel. */
export interface WriteModelOptions {
  /** Weights totalling at most this many bytes (as f32) go inline in model.json; default 4096. */
  inlineLimitBytes?: number;
  /** The safetensors file name, next to model.json; default `<name>.safetensors`. */
  weightsFile?: string;
  /**
   * Write every input's first dimension as "N", and a reshape's leading
   * target dimension too when it equals the batch (`x.view(x.size(0), -1)`).
   * The writer checks that the graph builds at another batch size with
   * outputs whose first dimension scales with it, and refuses graphs that
   * bake the batch in.
   */
  symbolicBatch?: boolean;
}

/** Writes `graph` to `path` (model.json) and, unless inline, its weights next to it. */
export async function writeModel(
  graph: Graph,
  path: string,
  options: WriteModelOptions = {},
): Promise<void> {
  verifyGraph(graph, `cannot write ${path}`);
  const order = topoOrder(graph);
  const names = nameNodes(order, path);
  const weights = order.filter((node) => node.op === "weight").map((node): NamedTensor => ({
    name: names.get(node)!,
    shape: node.type.shape,
    data: node.data!,
  }));
  const bytes = weights.reduce((sum, { data }) => sum + data.byteLength, 0);
  const inline = bytes <= (options.inlineLimitBytes ?? 4096);
  const weightsFile = options.weightsFile ??
    `${basename(path).replace(/\.json$/i, "")}.safetensors`;
  const text = formatModel(graph, order, names, {
    weights: weights.length === 0 ? undefined : inline ? weights : weightsFile,
    batch: options.symbolicBatch ? graph.inputs[0]?.type.shape[0] : undefined,
  });
  if (options.symbolicBatch) checkBatchPolymorphic(graph, text, path, inline ? [] : weights);

  const suffix = `.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const weightsPath = join(dirname(path), weightsFile);
  // A rename onto a folder fails late, after the other file is in place: refuse it first.
  for (const target of inline ? [path] : [path, weightsPath]) {
    const isFolder = await Deno.stat(target).then((info) => info.isDirectory, () => false);
    if (isFolder) throw new RefoldError(`cannot write: ${target} is a folder`, { file: path });
  }
  const written: string[] = [];
  try {
    if (!inline) {
      written.push(weightsPath + suffix);
      await writeSafetensorsTo(weightsPath + suffix, weights, { metadata: { producer: "refold" } });
    }
    written.push(path + suffix);
    await Deno.writeTextFile(path + suffix, text);
    if (!inline) await Deno.rename(weightsPath + suffix, weightsPath);
    await Deno.rename(path + suffix, path);
  } catch (error) {
    for (const temporary of written) await Deno.remove(temporary).catch(() => {});
    if (error instanceof RefoldError) throw error;
    // Deno's message ends with the temporary file's name, which means nothing to the user.
    const reason = (error as Error).message.replace(/ \(os error \d+\).*$/, "");
    throw new RefoldError(`cannot write: ${reason}`, { file: path });
  }
}

/** Inputs and weights keep their names; other nodes become `<op>_<k>`, avoiding those. */
function nameNodes(order: readonly Node[], path: string): Map<Node, string> {
  const names = new Map<Node, string>();
  const owners = new Map<string, Node>();
  for (const node of order) {
    if (node.op !== "input" && node.op !== "weight") continue;
    const { name } = node.attrs as { name: string };
    const owner = owners.get(name);
    if (owner) {
      throw new RefoldError(
        `cannot write: ${owner.op} "${name}" and ${node.op} "${name}" are different nodes with one name`,
        { file: path },
      );
    }
    owners.set(name, node);
    names.set(node, name);
  }
  const counters = new Map<string, number>();
  for (const node of order) {
    if (names.has(node)) continue;
    let name: string;
    do {
      const k = counters.get(node.op) ?? 0;
      counters.set(node.op, k + 1);
      name = `${node.op}_${k}`;
    } while (owners.has(name));
    owners.set(name, node);
    names.set(node, name);
  }
  return names;
}

interface FormatOptions {
  /** Inline tensors, a safetensors file name, or none. */
  weights: readonly NamedTensor[] | string | undefined;
  /** The batch size that becomes "N", when writing a symbolic batch. */
  batch?: number;
}

function formatModel(
  graph: Graph,
  order: readonly Node[],
  names: ReadonlyMap<Node, string>,
  options: FormatOptions,
): string {
  const list = (
    items: string[],
  ) => (items.length === 0 ? "[]" : `[\n    ${items.join(",\n    ")}\n  ]`);
  const inputs = graph.inputs.map((input) => {
    const shape: (number | string)[] = [...input.type.shape];
    if (options.batch !== undefined && shape.length > 0) shape[0] = "N";
    const dtype = input.type.dtype === "f32" ? {} : { dtype: input.type.dtype };
    return oneLine({ name: input.attrs.name, shape, ...dtype });
  });
  const nodes = order.filter((node) => node.op !== "input" && node.op !== "weight").map((node) => {
    const attrs: Record<string, unknown> = Object.fromEntries(
      Object.entries(node.attrs).sort(([a], [b]) => (a < b ? -1 : 1)),
    );
    if (node.op === "reshape" && options.batch !== undefined) {
      // x.view(x.size(0), -1): a leading target equal to the batch is taken to be the batch.
      const shape: (number | string)[] = [...(attrs.shape as number[])];
      if (shape[0] === options.batch) shape[0] = "N";
      attrs.shape = shape;
    }
    const inputNames = node.inputs.map((input) => names.get(input)!);
    return oneLine({ name: names.get(node), op: node.op, inputs: inputNames, attrs });
  });
  const outputs = graph.outputs.map(({ name, node }) => oneLine({ name, node: names.get(node) }));
  const lines = [
    `  "format": ${JSON.stringify(MODEL_FORMAT)}`,
    `  "version": ${MODEL_VERSION}`,
    `  "name": ${JSON.stringify(graph.name)}`,
    `  "inputs": ${list(inputs)}`,
    `  "nodes": ${list(nodes)}`,
    `  "outputs": ${list(outputs)}`,
  ];
  if (typeof options.weights === "string") {
    lines.push(`  "weights": ${oneLine({ file: options.weights })}`);
  } else if (options.weights) {
    const tensors = options.weights.map(({ name, shape, data }) =>
      `      ${JSON.stringify(name)}: {"shape": ${oneLine(shape)}, "data": [${
        Array.from(data, float32Text).join(", ")
      }]}`
    );
    lines.push(`  "weights": {\n    "inline": {\n${tensors.join(",\n")}\n    }\n  }`);
  }
  return `{\n${lines.join(",\n")}\n}\n`;
}

/** JSON on one line with a space after each separator. */
function oneLine(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(oneLine).join(", ")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).filter(([, item]) => item !== undefined);
    return `{${
      entries.map(([key, item]) => `${JSON.stringify(key)}: ${oneLine(item)}`).join(", ")
    }}`;
  }
  return JSON.stringify(value);
}

/** The shortest decimal that reads back as the same float32. */
function float32Text(value: number): string {
  if (Object.is(value, -0)) return "-0";
  for (let digits = 1; digits < 9; digits++) {
    const text = String(Number(value.toPrecision(digits)));
    if (Math.fround(Number(text)) === value) return text;
  }
  return String(value);
}

/** Refuses a symbolic-batch graph whose outputs do not follow the batch size. */
function checkBatchPolymorphic(
  graph: Graph,
  text: string,
  path: string,
  weights: readonly NamedTensor[],
): void {
  const batch = graph.inputs[0]?.type.shape[0] ?? 1;
  const mismatch = graph.inputs.find((input) => input.type.shape[0] !== batch);
  if (mismatch) {
    throw new RefoldError(
      `cannot write with symbolicBatch: input "${mismatch.attrs.name}" has first dimension ` +
        `${mismatch.type.shape[0]}, input "${graph.inputs[0].attrs.name}" has ${batch}`,
      { file: path },
    );
  }
  const other = batch + 1;
  const tensors = new Map(weights.map((tensor) => [tensor.name, tensor]));
  let scaled: Graph;
  try {
    scaled = parseModel(text, {
      file: path,
      batch: other,
      weights: tensors.size > 0 ? tensors : undefined,
    });
  } catch (error) {
    throw new RefoldError(
      `cannot write with symbolicBatch: the graph does not build at batch ${other}: ${
        (error as Error).message
      }`,
      { file: path },
    );
  }
  graph.outputs.forEach(({ name, node }, i) => {
    const shape = node.type.shape;
    const got = scaled.outputs[i].node.type.shape;
    const expected = shape.length > 0 && shape[0] % batch === 0
      ? [(shape[0] / batch) * other, ...shape.slice(1)]
      : undefined;
    if (!expected || expected.join() !== got.join()) {
      throw new RefoldError(
        `cannot write with symbolicBatch: output "${name}" is [${shape}] at batch ${batch} but ` +
          `[${got}] at batch ${other}; the graph bakes in its batch size`,
        { file: path },
      );
    }
  });
}
