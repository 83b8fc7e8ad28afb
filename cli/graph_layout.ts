/**
 * Lays a graph out for drawing: boxes in layers from inputs (top) to outputs
 * (bottom), each box one op, or, for graphs too large to read op by op, one
 * block of the network. A block is named by the checkpoint keys of the
 * weights its ops read (`stages.1.0.repmlp_block.fc3.weight` belongs to
 * `stages.1.0`); ops that read no named weight join the block of their latest
 * input. Blocks are cut into runs along the topological order, so the drawing
 * stays acyclic even when a model interleaves its blocks.
 */
import { formatNode, type Graph, isOp, type Node, topoOrder } from "../ir/mod.ts";

/** One box. */
export interface BoxLayout {
  /** Op name, block name, or the port name of an input/output. */
  readonly label: string;
  /** The second line: shape, or what a block holds. */
  readonly detail: string;
  /** Shown on hover: the op in IR text, or a block's op list. */
  readonly title: string;
  /** Styling class: the op, or "block", "input", "output". */
  readonly kind: string;
  readonly x: number;
  readonly y: number;
}

/** A laid-out graph; coordinates are box centres in pixels. */
export interface GraphLayout {
  readonly boxes: readonly BoxLayout[];
  readonly edges: readonly (readonly [number, number])[];
  readonly width: number;
  readonly height: number;
  /** True when boxes are blocks rather than ops. */
  readonly collapsed: boolean;
}

/** Box size and spacing, shared with the SVG renderer. */
export const BOX = { width: 168, height: 40, gapX: 20, gapY: 30, margin: 16 } as const;

/** Graphs with more ops than this are drawn by block. */
const MAX_OP_BOXES = 60;

interface Unit {
  label: string;
  detail: string;
  title: string;
  kind: string;
  inputs: Set<number>;
}

const shapeText = (shape: readonly number[]) => shape.length === 0 ? "scalar" : shape.join("×");

/** The op boxes: inputs, each computing node, then one box per graph output. */
function opUnits(
  order: readonly Node[],
  graph: Graph,
): { units: Unit[]; index: Map<Node, number> } {
  const index = new Map<Node, number>();
  const names = new Map(order.map((node, i) => [node, `%${i}`]));
  const units: Unit[] = [];
  for (const node of order) {
    if (node.op === "weight") continue;
    index.set(node, units.length);
    const isInput = isOp(node, "input");
    units.push({
      label: isInput ? `input ${node.attrs.name}` : node.op,
      detail: shapeText(node.type.shape),
      title: `${names.get(node)} = ${formatNode(node, names)}`,
      kind: isInput ? "input" : node.op,
      inputs: new Set(node.inputs.filter((i) => index.has(i)).map((i) => index.get(i)!)),
    });
  }
  for (const { name, node } of graph.outputs) {
    units.push({
      label: `output ${name}`,
      detail: shapeText(node.type.shape),
      title: `output ${JSON.stringify(name)} = ${names.get(node)}`,
      kind: "output",
      inputs: new Set([index.get(node)!]),
    });
  }
  return { units, index };
}

/** `stages.1.0.repmlp_block.fc3.weight` -> `stages.1.0` (through the last numbered part). */
function blockOf(weightName: string, depth: number | "natural"): string | undefined {
  const parts = weightName.split(".");
  if (parts.length < 2) return undefined; // onnx::Conv_12 and the like name no block
  parts.pop();
  if (depth !== "natural") return parts.slice(0, depth).join(".");
  let last = -1;
  parts.forEach((part, i) => /^\d+$/.test(part) && (last = i));
  return parts.slice(0, last >= 0 ? last + 1 : 1).join(".");
}

/**
 * The block of a node's most recently computed input: a residual add(x, f(x)) belongs
 * with f, not with whatever computed x.
 */
function latestBlock(
  node: Node,
  block: ReadonlyMap<Node, string>,
  run: ReadonlyMap<Node, number>,
): string | undefined {
  let latest: Node | undefined;
  for (const input of node.inputs) {
    if (run.has(input) && (latest === undefined || run.get(input)! >= run.get(latest)!)) {
      latest = input;
    }
  }
  return latest && block.get(latest);
}

/** Block boxes: runs of ops of one block along `order`. */
function blockUnits(order: readonly Node[], graph: Graph, depth: number | "natural"): Unit[] {
  const block = new Map<Node, string>();
  const run = new Map<Node, number>();
  const units: Unit[] = [];
  const ops: Record<string, number>[] = [];
  const last: Node[] = [];
  let current = "";
  for (const node of order) {
    if (node.op === "weight") continue;
    const named = node.inputs.find((i): i is Node<"weight"> =>
      isOp(i, "weight") && blockOf(i.attrs.name, depth) !== undefined
    );
    const key = isOp(node, "input")
      ? `input ${node.attrs.name}`
      : named
      ? blockOf(named.attrs.name, depth)!
      : latestBlock(node, block, run) ?? "(ops)";
    block.set(node, key);
    if (key !== current || units.length === 0) {
      units.push({ label: key, detail: "", title: "", kind: "block", inputs: new Set() });
      ops.push({});
      current = key;
    }
    const at = units.length - 1;
    run.set(node, at);
    last[at] = node;
    if (node.op === "input") units[at].kind = "input";
    else ops[at][node.op] = (ops[at][node.op] ?? 0) + 1;
    for (const input of node.inputs) {
      if (run.has(input) && run.get(input) !== at) units[at].inputs.add(run.get(input)!);
    }
  }
  units.forEach((unit, i) => {
    const list = Object.entries(ops[i]).sort((a, b) => b[1] - a[1]);
    const count = list.reduce((sum, [, n]) => sum + n, 0);
    unit.detail = unit.kind === "input"
      ? shapeText(last[i].type.shape)
      : `${count} op${count === 1 ? "" : "s"} → ${shapeText(last[i].type.shape)}`;
    unit.title = list.map(([op, n]) => `${op} ×${n}`).join(", ") || unit.label;
  });
  for (const { name, node } of graph.outputs) {
    units.push({
      label: `output ${name}`,
      detail: shapeText(node.type.shape),
      title: `output ${JSON.stringify(name)}`,
      kind: "output",
      inputs: new Set([run.get(node)!]),
    });
  }
  return units;
}

/** Layers by longest path, then each layer ordered by its inputs' mean position (two sweeps). */
function place(
  units: readonly Unit[],
): { x: number[]; y: number[]; width: number; height: number } {
  const layer = units.map(() => 0);
  units.forEach((unit, i) => {
    for (const input of unit.inputs) layer[i] = Math.max(layer[i], layer[input] + 1);
  });
  const layers: number[][] = [];
  units.forEach((_, i) => (layers[layer[i]] ??= []).push(i));
  const slot = units.map(() => 0);
  for (let sweep = 0; sweep < 2; sweep++) {
    for (const members of layers) {
      const key = (i: number) => {
        const inputs = [...units[i].inputs];
        return inputs.length === 0
          ? slot[i]
          : inputs.reduce((s, j) => s + slot[j], 0) / inputs.length;
      };
      const keys = new Map(members.map((i) => [i, key(i)]));
      members.sort((a, b) => keys.get(a)! - keys.get(b)! || a - b);
      members.forEach((i, at) => (slot[i] = at - (members.length - 1) / 2));
    }
  }
  const widest = Math.max(...layers.map((members) => members.length));
  const pitchX = BOX.width + BOX.gapX, pitchY = BOX.height + BOX.gapY;
  const width = widest * pitchX - BOX.gapX + 2 * BOX.margin;
  const height = layers.length * pitchY - BOX.gapY + 2 * BOX.margin;
  return {
    x: slot.map((s) => width / 2 + s * pitchX),
    y: layer.map((l) => BOX.margin + BOX.height / 2 + l * pitchY),
    width,
    height,
  };
}

/** Lays out `graph`, by op when it is small enough to read, else by block. */
export function layoutGraph(graph: Graph, options: { maxBoxes?: number } = {}): GraphLayout {
  const limit = options.maxBoxes ?? MAX_OP_BOXES;
  const order = topoOrder(graph);
  let units = opUnits(order, graph).units;
  const collapsed = units.length > limit + graph.inputs.length + graph.outputs.length;
  if (collapsed) {
    // The finest blocking that fits, else the coarsest.
    for (const depth of ["natural", 2, 1] as const) {
      units = blockUnits(order, graph, depth);
      if (units.length <= limit) break;
    }
  }
  const { x, y, width, height } = place(units);
  return {
    boxes: units.map((unit, i) => ({
      label: unit.label,
      detail: unit.detail,
      title: unit.title,
      kind: unit.kind,
      x: x[i],
      y: y[i],
    })),
    edges: units.flatMap((unit, i) => [...unit.inputs].map((from) => [from, i] as const)),
    width,
    height,
    collapsed,
  };
}
