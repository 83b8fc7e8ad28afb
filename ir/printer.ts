/**
 * The IR text form: deterministic, so it serves as snapshot and error-message
 * format. Values are named %0, %1, ... by order of appearance; attributes are
 * sorted; weights print by name and type only.
 *
 *   graph "block" {
 *     %0 = input "x" : f32[1,8,14,14]
 *     %1 = weight "fc3.weight" : f32[392,98,1,1]
 *     %2 = conv2d(%0, %1) {dilation=[1,1], groups=4, pads=[0,0,0,0], stride=[1,1]} : f32[...]
 *     output "y" = %2
 *   }
 */
import { formatAttrs } from "./attrs.ts";
import type { Graph, Node } from "./node.ts";
import { topoOrder } from "./traverse.ts";
import { formatType } from "./types.ts";

/** Prints a whole graph. */
export function printGraph(graph: Graph): string {
  const names = new Map<Node, string>();
  const lines = [`graph ${JSON.stringify(graph.name)} {`];
  for (const node of topoOrder(graph)) {
    const name = `%${names.size}`;
    names.set(node, name);
    lines.push(`  ${name} = ${formatNode(node, names)}`);
  }
  for (const { name, node } of graph.outputs) {
    lines.push(`  output ${JSON.stringify(name)} = ${names.get(node)}`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

/** One node's right-hand side, with operands named by `names` (or `?` when unnamed). */
export function formatNode(node: Node, names: ReadonlyMap<Node, string> = new Map()): string {
  const type = formatType(node.type);
  if (node.op === "input" || node.op === "weight") {
    const { name } = node.attrs as { name: string };
    return `${node.op} ${JSON.stringify(name)} : ${type}`;
  }
  const operands = node.inputs.map((input) => names.get(input) ?? "?").join(", ");
  const attrs = formatAttrs(node.attrs);
  return `${node.op}(${operands})${attrs ? " " + attrs : ""} : ${type}`;
}

/** A short description of a node for error messages: `conv2d(f32[..], f32[..]) {..} : f32[..]`. */
export function describeNode(node: Node): string {
  if (node.op === "input" || node.op === "weight") return formatNode(node);
  const operands = node.inputs.map((input) => formatType(input.type)).join(", ");
  const attrs = formatAttrs(node.attrs);
  return `${node.op}(${operands})${attrs ? " " + attrs : ""} : ${formatType(node.type)}`;
}
