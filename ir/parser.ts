/**
 * Parses the text form written by printer.ts back into a graph. Weights are
 * bound by name through `options.weights`; without it they get seeded values
 * (uniform in [-1, 1), or [0.5, 1.5) for names ending in "var", so that a
 * batchnorm's variance stays positive), which is what snapshot tests want.
 */
import { RefoldError } from "./errors.ts";
import { type Graph, type GraphOutput, makeNode, makeWeight, type Node } from "./node.ts";
import { isOpName, type OpAttrs } from "./ops/mod.ts";
import { hashString, uniform } from "./random.ts";
import { type DType, DTYPES, sizeOf } from "./types.ts";

/** Options of parseGraph. */
export interface ParseOptions {
  /** Values of a weight by name; undefined falls back to seeded values. */
  weights?: (name: string, shape: readonly number[]) => Float32Array | undefined;
}

/** Seeded stand-in values for a weight that the text names but does not carry. */
export function seededWeight(name: string, shape: readonly number[]): Float32Array {
  const positive = /var$/.test(name);
  return uniform(sizeOf(shape), hashString(name), positive ? 0.5 : -1, positive ? 1.5 : 1);
}

const VALUE = String.raw`%[A-Za-z0-9_]+`;
const STRING = String.raw`"(?:[^"\\]|\\.)*"`;
const TYPE = String.raw`([a-z0-9]+)\[([0-9,]*)\]`;
const SOURCE_LINE = new RegExp(`^(${VALUE}) = (input|weight) (${STRING}) : ${TYPE}$`);
const OP_LINE = new RegExp(`^(${VALUE}) = ([a-z_0-9]+)\\(([^)]*)\\)(?: \\{(.*)\\})? : ${TYPE}$`);
const OUTPUT_LINE = new RegExp(`^output (${STRING}) = (${VALUE})$`);
const HEADER = new RegExp(`^graph (${STRING}) \\{$`);

/** Parses a whole graph; errors name the line. */
export function parseGraph(text: string, options: ParseOptions = {}): Graph {
  const lines = text.split("\n").map((line) => line.trim());
  const values = new Map<string, Node>();
  const inputs: Node<"input">[] = [];
  const outputs: GraphOutput[] = [];
  let name: string | undefined;
  let closed = false;
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index];
    if (line === "" || line.startsWith("//")) continue;
    const at = (problem: string) => new RefoldError(`line ${index + 1}: ${problem}: ${line}`);
    try {
      if (name === undefined) {
        const header = HEADER.exec(line);
        if (!header) throw at('expected `graph "name" {`');
        name = JSON.parse(header[1]);
        continue;
      }
      if (closed) throw at("text after the closing brace");
      if (line === "}") {
        closed = true;
        continue;
      }
      const output = OUTPUT_LINE.exec(line);
      if (output) {
        const node = values.get(output[2]);
        if (!node) throw at(`unknown value ${output[2]}`);
        outputs.push({ name: JSON.parse(output[1]), node });
        continue;
      }
      const source = SOURCE_LINE.exec(line);
      const op = source ? undefined : OP_LINE.exec(line);
      if (!source && !op) throw at("not a node, output or closing brace");
      const id = (source ?? op)![1];
      if (values.has(id)) throw at(`${id} is defined twice`);
      let node: Node;
      if (source) {
        const [, , kind, quoted, dtype, dims] = source;
        const shape = parseShape(dims);
        const sourceName: string = JSON.parse(quoted);
        if (!DTYPES.includes(dtype as DType)) throw at(`unknown dtype ${dtype}`);
        if (kind === "input") {
          node = makeNode("input", [], { name: sourceName, shape, dtype: dtype as DType });
          inputs.push(node);
        } else {
          const data = options.weights?.(sourceName, shape) ?? seededWeight(sourceName, shape);
          node = makeWeight(sourceName, shape, data);
        }
      } else {
        const [, , opName, operandText, attrText, , dims] = op!;
        if (!isOpName(opName)) throw at(`unknown op "${opName}"`);
        const operands = operandText.trim() === "" ? [] : operandText.split(",").map((operand) => {
          const value = values.get(operand.trim());
          if (!value) throw at(`unknown value ${operand.trim()}`);
          return value;
        });
        const attrs = parseAttrs(attrText ?? "") as OpAttrs[typeof opName];
        node = makeNode(opName, operands, attrs);
        if (node.type.shape.join(",") !== dims) {
          throw at(`declared type [${dims}] but the op infers [${node.type.shape}]`);
        }
      }
      values.set(id, node);
    } catch (error) {
      if (error instanceof RefoldError && error.message.startsWith("line ")) throw error;
      throw at(error instanceof Error ? error.message : String(error));
    }
  }
  if (name === undefined) throw new RefoldError("empty graph text");
  if (!closed) throw new RefoldError("graph text ends without its closing brace");
  if (outputs.length === 0) throw new RefoldError(`graph "${name}" has no outputs`);
  return { name, inputs, outputs };
}

function parseShape(dims: string): number[] {
  return dims === "" ? [] : dims.split(",").map(Number);
}

/** Parses `key=value, key=value` where values are numbers, strings, booleans or number lists. */
function parseAttrs(text: string): Record<string, unknown> {
  const attrs: Record<string, unknown> = {};
  let rest = text.trim();
  while (rest !== "") {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(\[[^\]]*\]|"(?:[^"\\]|\\.)*"|[^,\s]+)(?:,\s*|$)/
      .exec(rest);
    if (!match) throw new RefoldError(`bad attribute text "${rest}"`);
    attrs[match[1]] = parseValue(match[2]);
    rest = rest.slice(match[0].length);
  }
  return attrs;
}

function parseValue(text: string): unknown {
  if (text.startsWith("[")) {
    const inner = text.slice(1, -1).trim();
    return inner === "" ? [] : inner.split(",").map((item) => parseValue(item.trim()));
  }
  if (text === "nan") return NaN;
  if (text === "inf") return Infinity;
  if (text === "-inf") return -Infinity;
  const value = JSON.parse(text);
  if (typeof value !== "number" && typeof value !== "string" && typeof value !== "boolean") {
    throw new RefoldError(`bad attribute value ${text}`);
  }
  return value;
}
