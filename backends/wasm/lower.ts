/**
 * Lowers a deployed graph to a kernel schedule.
 *
 * - Movement ops (reshape, transpose, flatten) never become kernels: readers
 *   see through them with views, and a kernel whose single use is a movement
 *   chain stores straight into the chain's final layout. That is how the
 *   RepMLP partition and un-partition permutes vanish into fc3's loads and
 *   stores.
 * - Elementwise ops (bias, ReLU, sigmoid, GELU, erf, residual add, global
 *   perceptron scale, batchnorm) fuse into the open kernel that produced
 *   their input when that input has no other use, looking through movement
 *   chains; their other operands are read through views pulled back into the
 *   kernel's index space.
 * - Anything a view cannot express (a transpose of a non-splittable layout)
 *   is materialized by a copy kernel first; every valid graph lowers.
 */
import {
  type Graph,
  isOp,
  isView,
  type Node,
  type NodeOf,
  outputUses,
  sameShape,
  sizeOf,
  topoOrder,
  usersOf,
} from "../../ir/mod.ts";
import { foldConstants } from "./legalize.ts";
import { type GroupPlan, type LowerContext, loweringOf, type WorkOp } from "./lower_ops.ts";
import type { ChainOp, Epilogue, Kernel, Operand, Schedule, Value } from "./schedule.ts";
import {
  broadcastView,
  contiguous,
  inversePerm,
  isContiguous,
  partsOf,
  reshapeView,
  transposeView,
  type View,
} from "./views.ts";

interface Group {
  readonly plan: GroupPlan;
  /** Movement nodes passed since the head, in graph order. */
  readonly moves: Node[];
  readonly ops: ChainOp[];
  tail: Node;
  open: boolean;
}

/** Lowers `graph` (after the compiler pipeline) into kernels for the wasm target. */
export function lowerGraph(graph: Graph): Schedule {
  return new Lowering(foldConstants(graph)).run();
}

/** Maps `view` (over the shape after `moves`) back to the head's index space. */
function pullback(view: View, moves: readonly Node[], indexShape: readonly number[]) {
  let current: View | undefined = view;
  for (let i = moves.length - 1; i >= 0 && current; i--) {
    const move = moves[i];
    current = isOp(move, "transpose")
      ? transposeView(current, inversePerm(move.attrs.perm))
      : reshapeView(current, move.inputs[0].type.shape);
  }
  return current && reshapeView(current, indexShape);
}

class Lowering implements LowerContext {
  readonly #values: Value[] = [];
  readonly #kernels: Kernel[] = [];
  readonly #valueOf = new Map<Node, Value>();
  readonly #groupOf = new Map<Node, Group>();
  readonly #groups: Group[] = [];
  readonly #users: Map<Node, Node[]>;
  readonly #outputUses: Map<Node, number>;
  readonly #inputs: { name: string; value: Value }[] = [];

  constructor(readonly graph: Graph) {
    this.#users = usersOf(graph);
    this.#outputUses = outputUses(graph);
  }

  run(): Schedule {
    for (const node of topoOrder(this.graph)) this.#visit(node);
    for (const group of this.#groups) if (group.open) this.#finalize(group);
    const outputs = this.graph.outputs.map(({ name, node }) => {
      const operand = this.operand(node);
      const whole = operand.view.offset === 0 &&
        sameShape(operand.view.shape, operand.value.shape) &&
        isContiguous(operand.view);
      return { name, value: whole ? operand.value : this.materialize(operand) };
    });
    return {
      name: this.graph.name,
      kernels: this.#kernels,
      values: this.#values,
      inputs: this.#inputs,
      outputs,
    };
  }

  /** A fresh value (LowerContext). */
  newValue(shape: readonly number[], home: "weight" | "arena", data?: Float32Array, name?: string) {
    const value: Value = { id: this.#values.length, shape, size: sizeOf(shape), home, data, name };
    this.#values.push(value);
    return value;
  }

  /** Appends a kernel (LowerContext). */
  addKernel(kernel: Kernel): void {
    this.#kernels.push(kernel);
  }

  /** The node's value as an operand over its own shape, finalizing its producer if needed. */
  operand(node: Node): Operand {
    let root = node;
    while (!this.#valueOf.has(root) && isView(root)) root = root.inputs[0];
    const group = this.#groupOf.get(root);
    if (group?.open) this.#finalize(group);
    return this.#viewOf(node);
  }

  /** The node's value broadcast to `shape`, materializing when the layout forbids it. */
  operandAs(node: Node, shape: readonly number[]): Operand {
    const operand = this.operand(node);
    const view = broadcastView(operand.view, shape);
    if (view) return { value: operand.value, view };
    const value = this.materialize(operand);
    return { value, view: broadcastView(contiguous(value.shape), shape)! };
  }

  /** Copies an operand into a fresh contiguous value. */
  materialize(operand: Operand): Value {
    const value = this.newValue(operand.view.shape, "arena");
    this.#kernels.push({
      kind: "elementwise",
      label: `copy [${operand.view.shape}]`,
      shape: operand.view.shape,
      source: operand,
      epilogue: { ops: [], out: { value, view: contiguous(value.shape) } },
    });
    return value;
  }

  #viewOf(node: Node): Operand {
    const value = this.#valueOf.get(node);
    if (value) return { value, view: contiguous(node.type.shape) };
    if (!isView(node)) throw new Error(`wasm lowering: ${node.op} has no value yet`);
    const inner = this.#viewOf(node.inputs[0]);
    const step = (view: View) =>
      isOp(node, "transpose")
        ? transposeView(view, node.attrs.perm)
        : reshapeView(view, node.type.shape);
    const view = step(inner.view);
    if (view) return { value: inner.value, view };
    const copy = this.materialize(inner);
    this.#valueOf.set(node.inputs[0], copy);
    return { value: copy, view: step(contiguous(copy.shape))! };
  }

  #singleUse(node: Node): boolean {
    return (this.#users.get(node)?.length ?? 0) === 1 && !this.#outputUses.has(node);
  }

  #visit(node: Node): void {
    if (node.op === "input") {
      const name = node.attrs.name;
      const value = this.newValue(node.type.shape, "arena", undefined, name);
      this.#inputs.push({ name, value });
      this.#valueOf.set(node, value);
      return;
    }
    if (node.op === "weight") {
      const name = node.attrs.name;
      this.#valueOf.set(node, this.newValue(node.type.shape, "weight", node.data, name));
      return;
    }
    if (isView(node)) return;
    if (this.#tryFuse(node)) return;
    const plan = loweringOf(node).head(node, this);
    if (plan.kind === "done") {
      this.#valueOf.set(node, plan.value);
      return;
    }
    const group: Group = { plan, moves: [], ops: [...plan.ops], tail: node, open: true };
    this.#groups.push(group);
    this.#groupOf.set(node, group);
  }

  /** Appends an elementwise node to the open group producing one of its inputs. */
  #tryFuse(node: Node): boolean {
    const rule = loweringOf(node);
    const fusable = rule.mainInputs;
    for (const main of fusable) {
      const chain: Node[] = [];
      let source = node.inputs[main];
      if (node.inputs.filter((input) => input === source).length > 1) continue;
      if (!sameShape(source.type.shape, node.type.shape)) continue;
      while (isView(source) && !this.#valueOf.has(source) && this.#singleUse(source)) {
        chain.unshift(source);
        source = source.inputs[0];
      }
      const group = this.#groupOf.get(source);
      if (!group?.open || group.tail !== source || !this.#singleUse(source)) continue;
      if (!group.plan.fusable) continue;
      const ops = rule.chain!(node as NodeOf<WorkOp>, main, this);
      const moves = [...group.moves, ...chain];
      const pulled = ops.map((op) => mapOperands(op, (view) => this.#pull(view, moves, group)));
      if (pulled.some((op) => op === undefined)) continue;
      // The kernel must still be able to store this node's value.
      if (!this.#pull(contiguous(node.type.shape), moves, group)) continue;
      group.moves.push(...chain);
      group.ops.push(...(pulled as ChainOp[]));
      group.tail = node;
      for (const member of [...chain, node]) this.#groupOf.set(member, group);
      return true;
    }
    return false;
  }

  #pull(view: View, moves: readonly Node[], group: Group): View | undefined {
    const pulled = pullback(view, moves, group.plan.indexShape);
    if (!pulled) return undefined;
    if (group.plan.counts && !partsOf(pulled, group.plan.counts)) return undefined;
    return pulled;
  }

  /** Emits a group's kernel, storing through any single-use movement chain after it. */
  #finalize(group: Group): void {
    group.open = false;
    let end = group.tail;
    const trailing: Node[] = [];
    let outView = this.#pull(contiguous(end.type.shape), group.moves, group)!;
    while (this.#singleUse(end)) {
      const next = this.#users.get(end)![0];
      if (!isView(next)) break;
      const view = this.#pull(
        contiguous(next.type.shape),
        [...group.moves, ...trailing, next],
        group,
      );
      if (!view) break;
      trailing.push(next);
      end = next;
      outView = view;
    }
    const value = this.newValue(end.type.shape, "arena");
    const epilogue: Epilogue = { ops: group.ops, out: { value, view: outView } };
    this.#kernels.push(group.plan.finish(epilogue));
    this.#valueOf.set(end, value);
    for (const node of trailing) this.#groupOf.set(node, group);
  }
}

/** Rewrites every operand view of a chain op; undefined when one cannot be mapped. */
function mapOperands(op: ChainOp, map: (view: View) => View | undefined): ChainOp | undefined {
  const mapOne = (operand: Operand) => {
    const view = map(operand.view);
    return view && { value: operand.value, view };
  };
  if (op.kind === "unary") return op;
  if (op.kind === "binary") {
    const operand = mapOne(op.operand);
    return operand && { ...op, operand };
  }
  const [gamma, beta, mean, variance] = [op.gamma, op.beta, op.mean, op.variance].map(mapOne);
  if (!gamma || !beta || !mean || !variance) return undefined;
  return { ...op, gamma, beta, mean, variance };
}
