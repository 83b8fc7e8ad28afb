/**
 * model.json text to a checked, normalized document: JSON syntax, the
 * schema, then what a schema cannot say (unique names, references to earlier
 * nodes only, inline tensor sizes). Attributes get their PyTorch defaults
 * from the schema's `default` keywords, so the schema stays the one source.
 */
import { type DType, MAX_TENSOR_ELEMENTS, type OpName } from "../../ir/mod.ts";
import { staysInside } from "../inside.ts";
import { parseJsonText } from "./json_text.ts";
import { formatPath, type PathStep, Problems } from "./problems.ts";
import { attrsSchema, type Schema, validateModel } from "./schema.ts";

/** The format tag every model.json carries. */
export const MODEL_FORMAT = "refold-model";
/** The version this code reads and writes. */
export const MODEL_VERSION = 1;

/** A graph input; "N" marks the batch dimension. */
export interface DocInput {
  readonly name: string;
  readonly shape: readonly (number | "N")[];
  readonly dtype: DType;
}

/** A node with its attributes completed by defaults ("N" may remain in reshape shapes). */
export interface DocNode {
  readonly name: string;
  readonly op: Exclude<OpName, "input" | "weight">;
  readonly inputs: readonly string[];
  readonly attrs: Readonly<Record<string, unknown>>;
}

/** An inline tensor. */
export interface DocTensor {
  readonly shape: readonly number[];
  readonly data: readonly number[];
}

/** A checked model.json. */
export interface ModelDocument {
  /** The file name used in messages. */
  readonly file: string;
  readonly name: string;
  readonly inputs: readonly DocInput[];
  readonly nodes: readonly DocNode[];
  readonly outputs: readonly { readonly name: string; readonly node: string }[];
  /** The safetensors file, relative to model.json. */
  readonly weightsFile?: string;
  readonly inline: ReadonlyMap<string, DocTensor>;
  /** Names used that are neither inputs nor nodes, with the path of their first use. */
  readonly weightRefs: ReadonlyMap<string, readonly PathStep[]>;
  /** Where each input, node and inline tensor is declared, for messages. */
  readonly declared: ReadonlyMap<string, readonly PathStep[]>;
}

interface RawDocument {
  name?: string;
  inputs: { name: string; shape: (number | "N")[]; dtype?: DType }[];
  nodes: { name: string; op: DocNode["op"]; inputs?: string[]; attrs?: Record<string, unknown> }[];
  outputs: (string | { name: string; node: string })[];
  weights?: { file?: string; inline?: Record<string, DocTensor> };
}

/** Parses and checks model.json text; throws a ModelError listing every problem. */
export function readDocument(text: string, file: string): ModelDocument {
  const json = parseJsonText(text, file);
  const problems = new Problems(file);
  for (const { where, message } of validateModel(json)) problems.add(where, message);
  problems.throwIfAny();
  const raw = json as RawDocument;
  const { declared, inline } = declareNames(raw, problems);
  const weightsFile = raw.weights?.file;
  checkWeightsFile(weightsFile, problems);
  const references = new References(raw, problems);
  const nodes = raw.nodes.map((node, i): DocNode => {
    // The schema checks required attributes only inside an "attrs" that is present.
    const required = (attrsSchema(node.op)?.required ?? []) as string[];
    if (node.attrs === undefined && required.length > 0) {
      problems.add(
        ["nodes", i],
        `missing required property "attrs" (${node.op} needs ${required.join(", ")})`,
      );
    }
    const inputs = node.inputs ?? [];
    inputs.forEach((name, k) => references.use(name, ["nodes", i, "inputs", k], i));
    return { name: node.name, op: node.op, inputs, attrs: withDefaults(node.op, node.attrs ?? {}) };
  });
  const outputs = readOutputs(raw, references, problems);
  for (const name of inline.keys()) references.weights.delete(name);
  problems.throwIfAny();
  return {
    file,
    name: raw.name ?? "model",
    inputs: raw.inputs.map((input) => ({ ...input, dtype: input.dtype ?? "f32" })),
    nodes,
    outputs,
    weightsFile,
    inline,
    weightRefs: references.weights,
    declared,
  };
}

/** Every declared name (inputs, nodes, inline weights) once, and the inline weights checked. */
function declareNames(
  raw: RawDocument,
  problems: Problems,
): { declared: Map<string, PathStep[]>; inline: Map<string, DocTensor> } {
  const declared = new Map<string, PathStep[]>();
  const declare = (name: string, path: PathStep[]) => {
    const earlier = declared.get(name);
    if (earlier) {
      problems.add([...path, "name"], `"${name}" is already declared at ${formatPath(earlier)}`);
    } else declared.set(name, path);
  };
  raw.inputs.forEach((input, i) => {
    declare(input.name, ["inputs", i]);
    const count = input.shape.reduce((a: number, d) => a * (d === "N" ? 1 : d), 1);
    if (count > MAX_TENSOR_ELEMENTS) {
      problems.add(["inputs", i, "shape"], `has ${count} elements, more than 2^30`);
    }
  });
  raw.nodes.forEach((node, i) => declare(node.name, ["nodes", i]));
  const inline = new Map<string, DocTensor>();
  for (const [name, tensor] of Object.entries(raw.weights?.inline ?? {})) {
    const path = ["weights", "inline", name];
    const earlier = declared.get(name);
    if (earlier) problems.add(path, `"${name}" is already declared at ${formatPath(earlier)}`);
    const count = tensor.shape.reduce((a, d) => a * d, 1);
    if (count !== tensor.data.length) {
      problems.add(
        [...path, "data"],
        `has ${tensor.data.length} values, shape [${tensor.shape}] needs ${count}`,
      );
    }
    inline.set(name, tensor);
    declared.set(name, path);
  }
  return { declared, inline };
}

/** weights.file is relative and stays inside the model's folder (links are checked on open). */
function checkWeightsFile(weightsFile: string | undefined, problems: Problems): void {
  if (weightsFile !== undefined && /^([/\\]|[A-Za-z]:)/.test(weightsFile)) {
    problems.add(["weights", "file"], "must be a path relative to the model file");
  } else if (weightsFile !== undefined && !staysInside(weightsFile)) {
    problems.add(["weights", "file"], `"${weightsFile}" leaves the model's folder (it uses ..)`);
  }
}

/**
 * Name references: a node may use inputs, earlier nodes and weights; a later
 * node is a forward reference or a cycle. Names that are neither input nor
 * node are weights, collected with the first place that uses each.
 */
class References {
  /** Weight names, each with the first path that uses it. */
  readonly weights = new Map<string, PathStep[]>();
  // A duplicate name was reported already; references resolve to the first declaration.
  readonly #nodeIndex = new Map<string, number>();
  readonly #inputNames: Set<string>;

  constructor(private readonly raw: RawDocument, private readonly problems: Problems) {
    raw.nodes.forEach((node, i) =>
      this.#nodeIndex.has(node.name) || this.#nodeIndex.set(node.name, i)
    );
    this.#inputNames = new Set(raw.inputs.map((input) => input.name));
  }

  /** Records a use of `name` at `path`, by node `user` (undefined: by an output). */
  use(name: string, path: PathStep[], user?: number): void {
    const target = this.#nodeIndex.get(name);
    if (target === undefined || this.#inputNames.has(name)) {
      if (!this.#inputNames.has(name) && !this.weights.has(name)) this.weights.set(name, path);
      return;
    }
    if (user === undefined || target < user) return;
    const cycle = findCycle(this.raw.nodes, this.#nodeIndex, user, target);
    this.problems.add(
      path,
      cycle
        ? `"${name}" is part of a cycle: ${cycle.map((n) => `"${n}"`).join(" -> ")}`
        : `"${name}" is defined later, at $.nodes[${target}]; a node may only use earlier nodes`,
    );
  }
}

/** The outputs, each name once, each naming a node, input or weight. */
function readOutputs(
  raw: RawDocument,
  references: References,
  problems: Problems,
): { name: string; node: string }[] {
  const outputNames = new Map<string, number>();
  return raw.outputs.map((entry, i) => {
    const output = typeof entry === "string" ? { name: entry, node: entry } : entry;
    const earlier = outputNames.get(output.name);
    if (earlier !== undefined) {
      problems.add(
        ["outputs", i],
        `output "${output.name}" is already declared at $.outputs[${earlier}]`,
      );
    }
    outputNames.set(output.name, i);
    references.use(
      output.node,
      typeof entry === "string" ? ["outputs", i] : ["outputs", i, "node"],
    );
    return output;
  });
}

/** Names of a cycle through `user` and the later node it reads, or undefined if there is none. */
function findCycle(
  nodes: RawDocument["nodes"],
  index: ReadonlyMap<string, number>,
  user: number,
  target: number,
): string[] | undefined {
  // Depth-first from the target along inputs, looking for the user.
  const parent = new Map<number, number>();
  const stack = [target];
  const seen = new Set([target]);
  while (stack.length > 0) {
    const current = stack.pop()!;
    if (current === user) {
      const path = [user];
      for (let at = user; at !== target;) path.push(at = parent.get(at)!);
      return [nodes[user].name, ...path.reverse().map((i) => nodes[i].name)];
    }
    for (const name of nodes[current].inputs ?? []) {
      const next = index.get(name);
      if (next === undefined || seen.has(next)) continue;
      seen.add(next);
      parent.set(next, current);
      stack.push(next);
    }
  }
  return undefined;
}

const TUPLE_WIDTH: Readonly<Record<string, number>> = { "#/$defs/pair": 2, "#/$defs/pads": 4 };

/** Fills omitted attributes from the schema's defaults and widens integer shorthands to tuples. */
function withDefaults(op: string, given: Record<string, unknown>): Record<string, unknown> {
  const properties = (attrsSchema(op)?.properties ?? {}) as Record<string, Schema>;
  const attrs: Record<string, unknown> = {};
  for (const [key, property] of Object.entries(properties)) {
    let value = Object.hasOwn(given, key) ? given[key] : property.default;
    // Pooling: PyTorch's stride defaults to the kernel size.
    if (value === undefined && key === "stride") value = attrs.kernel;
    const width = TUPLE_WIDTH[property.$ref as string];
    if (width !== undefined && typeof value === "number") value = new Array(width).fill(value);
    if (Array.isArray(value)) value = [...value];
    if (value !== undefined) attrs[key] = value;
  }
  return attrs;
}
