/**
 * Recognizes GELU in the form torch exports it before opset 20,
 * `(x * (erf(x / sqrt 2) + 1)) * 0.5` (Div, Erf, Add, Mul, Mul), in any
 * association of the three factors and with `x * (1/sqrt 2)` for the
 * division, and replaces it by the IR's gelu. Identity: that product is
 * GELU's erf form, x * (1 + erf(x / sqrt 2)) / 2. The constants are float32
 * in the file, so sqrt 2 is matched to float32 precision.
 */
import { type Graph, makeNode, type Node, rebuild, sizeOf } from "../../ir/mod.ts";

/** The value of a one-element weight, or undefined. */
function scalar(node: Node): number | undefined {
  return node.op === "weight" && sizeOf(node.type.shape) === 1 ? node.data![0] : undefined;
}

const near = (value: number | undefined, target: number) =>
  value !== undefined && Math.abs(value - target) <= 1e-6 * Math.abs(target);

/** True when `node` is erf(x / sqrt 2) + 1 (in either operand order). */
function isErfTerm(node: Node, x: Node): boolean {
  if (node.op !== "add") return false;
  const [a, b] = node.inputs;
  const erf = scalar(b) === 1 ? a : scalar(a) === 1 ? b : undefined;
  if (erf?.op !== "erf") return false;
  const scaled = erf.inputs[0];
  if (scaled.inputs[0] !== x) return false;
  const factor = scalar(scaled.inputs[1]);
  return (scaled.op === "div" && near(factor, Math.SQRT2)) ||
    (scaled.op === "mul" && near(factor, Math.SQRT1_2));
}

/** The x of a GELU product rooted at `node`, or undefined. */
function geluInput(node: Node): Node | undefined {
  if (node.op !== "mul") return undefined;
  const [a, b] = node.inputs;
  const groupings: Node[][] = [];
  if (a.op === "mul") groupings.push([a.inputs[0], a.inputs[1], b]);
  if (b.op === "mul") groupings.push([a, b.inputs[0], b.inputs[1]]);
  for (const factors of groupings) {
    const half = factors.findIndex((factor) => scalar(factor) === 0.5);
    if (half < 0) continue;
    const [p, q] = factors.filter((_factor, i) => i !== half);
    for (const [x, term] of [[p, q], [q, p]]) {
      if (x.type.shape.length === node.type.shape.length && isErfTerm(term, x)) return x;
    }
  }
  return undefined;
}

/** Replaces every exported GELU pattern by a gelu node. */
export function recognizeGelu(graph: Graph): Graph {
  return rebuild(graph, (node) => {
    const x = geluInput(node);
    return x && x.type.shape.every((dim, i) => dim === node.type.shape[i])
      ? makeNode("gelu", [x], {})
      : undefined;
  });
}
