/**
 * The plan's builder: values, where each node's value lives (a value read
 * through a view), elementwise nodes as expressions in a kernel's index
 * space, and kernels checked against what the target addresses. Reads
 * through more view layers than the target has are peeled into copy
 * kernels (memoized, placed before their first reader); convolution and
 * pooling inputs of targets with strided windows are copied when an axis
 * needs an index table.
 */
import { BINARY_OPS, describeNode, isView, type Node, sizeOf, UNARY_OPS } from "../../ir/mod.ts";
import type { TargetCaps } from "./caps.ts";
import { binary, type BinaryOp, type Expr, load, mapLoads, unary, type UnaryOp } from "./expr.ts";
import { type Group, groupEnd } from "./group.ts";
import type { GemmWeight, Kernel, Operand, Port, Value } from "./kernel.ts";
import {
  backThrough,
  broadcastView,
  contiguous,
  isContiguous,
  moveForward,
  normalizeDims,
  peel,
  reshapeView,
  type View,
  viewShape,
} from "./view.ts";

/** An expression's coordinates: a logical shape and the map into the kernel's index space. */
export interface Frame {
  readonly shape: readonly number[];
  readonly toSpace: (view: View) => View;
}

/** Builds the values and kernels of one program. */
export class PlanBuilder {
  readonly values: Value[] = [];
  readonly kernels: Kernel[] = [];
  readonly #at = new Map<Node, Operand>();
  readonly #copies = new Map<string, Value>();

  constructor(readonly caps: TargetCaps) {}

  /** A new value. */
  newValue(
    shape: readonly number[],
    kind: Value["kind"],
    label: string,
    data?: Float32Array,
    name?: string,
  ): Value {
    const value: Value = {
      id: this.values.length,
      shape,
      size: sizeOf(shape),
      kind,
      dtype: "f32",
      data,
      label,
      ...(name === undefined ? {} : { name }),
    };
    this.values.push(value);
    return value;
  }

  /** A new value holding `node`, contiguous in its shape. */
  materialize(node: Node, kind: Value["kind"] = "act"): Value {
    const value = this.newValue(node.type.shape, kind, describeNode(node));
    this.#at.set(node, { value, view: contiguous(node.type.shape) });
    return value;
  }

  /** Where `node`'s value is: a value and the view of it in the node's shape. */
  view(node: Node): Operand {
    // Iterative: a deep chain of views would overflow a recursive walk.
    const chain: Node[] = [];
    let current = node;
    while (!this.#at.has(current)) {
      if (current.op === "weight") {
        const { shape } = current.type;
        const value = this.newValue(
          shape,
          "weight",
          describeNode(current),
          current.data,
          current.attrs.name,
        );
        this.#at.set(current, { value, view: contiguous(shape) });
        break;
      }
      if (!isView(current)) {
        throw new Error(`internal: ${describeNode(current)} was used before it was computed`);
      }
      chain.push(current);
      current = current.inputs[0];
    }
    let found = this.#at.get(current)!;
    for (let i = chain.length - 1; i >= 0; i--) {
      found = { value: found.value, view: moveForward(found.view, chain[i]) };
      this.#at.set(chain[i], found);
    }
    return found;
  }

  /** A load of `node`, broadcast to the frame's shape. */
  load(node: Node, frame: Frame): Expr {
    const { value, view } = this.view(node);
    return load({ value, view: frame.toSpace(broadcastView(view, frame.shape)) });
  }

  /** A load of the [C] vector `node` along `axis` of the frame's shape. */
  loadChannel(node: Node, frame: Frame, axis: number): Expr {
    const { value, view } = this.view(node);
    const unit = frame.shape.map((size, i) => (i === axis ? size : 1));
    const along = broadcastView(reshapeView(view, unit), frame.shape);
    return load({ value, view: frame.toSpace(along) });
  }

  /** The expression of an elementwise node in `frame`, given its operands' expressions. */
  elementwise(node: Node, frame: Frame, operand: (input: Node) => Expr): Expr {
    const [first, second] = node.inputs;
    if (UNARY_OPS.has(node.op)) return unary(node.op as UnaryOp, operand(first));
    if (BINARY_OPS.has(node.op)) {
      return binary(node.op as BinaryOp, operand(first), operand(second));
    }
    if (node.op === "batchnorm") {
      // Only BatchNorms with computed statistics get here (see verifyDeployed).
      const { epsilon, axis } = node.attrs;
      const [gamma, beta, mean, variance] = node.inputs.slice(1).map((param) =>
        this.loadChannel(param, frame, axis)
      );
      const root = unary("sqrt", binary("add", variance, { kind: "const", value: epsilon }));
      const centred = binary("sub", operand(first), mean);
      return binary("add", binary("mul", centred, binary("div", gamma, root)), beta);
    }
    throw new Error(`internal: ${describeNode(node)} is not elementwise`);
  }

  /** A GEMM weight node viewed as the matrix `shape` ([groups * n, k]). */
  gemmWeight(node: Node, shape: readonly number[]): GemmWeight {
    const { value, view } = this.view(node);
    if (node.op === "weight") return { kind: "constant", value };
    return { kind: "computed", operand: { value, view: reshapeView(view, shape) } };
  }

  /**
   * The epilogue of `group` after a core whose result is `seed`, and where it
   * is stored; `toSpace` maps views over the core's shape into the index space.
   */
  finish(
    group: Group,
    seed: Expr,
    toSpace: (view: View) => View,
  ): { epilogue: Expr; out: Operand } {
    let expr = seed;
    let current = group.core;
    const moves: Node[] = [];
    for (const node of group.chain) {
      if (isView(node)) {
        moves.push(node);
        current = node;
        continue;
      }
      const frame: Frame = {
        shape: current.type.shape,
        toSpace: (view) => toSpace(backThrough(moves, view)),
      };
      const previous = current, prior = expr;
      expr = this.elementwise(
        node,
        frame,
        (input) => input === previous ? prior : this.load(input, frame),
      );
      current = node;
    }
    const end = groupEnd(group);
    const value = this.materialize(end);
    return {
      epilogue: expr,
      out: { value, view: toSpace(backThrough(moves, contiguous(end.type.shape))) },
    };
  }

  /** Appends a kernel, first peeling every read the target cannot address. */
  push(kernel: Kernel): void {
    const fit = (operand: Operand) => this.fit(operand);
    const epilogue = mapLoads(kernel.epilogue, fit);
    if (kernel.out.view.layers.length > this.caps.viewLayers) {
      throw new Error(`internal: ${kernel.label} stores through too many view layers`);
    }
    if (kernel.kind === "gemm") {
      const image = kernel.shape.op === "conv" && this.caps.stridedWindows;
      const a = mapLoads(kernel.a, image ? (operand) => this.fitImage(operand) : fit);
      const w = kernel.w.kind === "computed"
        ? { kind: "computed" as const, operand: fit(kernel.w.operand) }
        : kernel.w;
      this.kernels.push({ ...kernel, a, w, epilogue });
    } else if (kernel.kind === "pool") {
      const x = this.caps.stridedWindows ? this.fitImage(kernel.x) : fit(kernel.x);
      this.kernels.push({ ...kernel, x, epilogue });
    } else this.kernels.push({ ...kernel, epilogue });
  }

  /** `operand` read through at most the target's view layers, copying bottom layers out. */
  fit(operand: Operand): Operand {
    let current = operand;
    while (current.view.layers.length > this.caps.viewLayers) {
      const { copy, rest } = peel(current.view)!;
      current = { value: this.copyOf({ value: current.value, view: copy }), view: rest };
    }
    return current;
  }

  /** An image operand with one stride per axis, copied contiguous when it has none. */
  fitImage(operand: Operand): Operand {
    const fitted = this.fit(operand);
    const [layer] = fitted.view.layers;
    const strided = fitted.view.layers.length === 1 &&
      layer.axes.every((dims) => normalizeDims(dims).length <= 1);
    if (strided) return fitted;
    return { value: this.copyOf(fitted), view: contiguous(viewShape(fitted.view)) };
  }

  /** A contiguous copy of what `source` reads, made once. */
  copyOf(source: Operand): Value {
    const key = `${source.value.id}:${JSON.stringify(source.view)}`;
    const known = this.#copies.get(key);
    if (known) return known;
    const shape = viewShape(source.view);
    const value = this.newValue(shape, "act", `copy of ${source.value.label}`);
    this.kernels.push({
      kind: "map",
      label: value.label,
      space: shape,
      epilogue: load(source),
      out: { value, view: contiguous(shape) },
    });
    this.#copies.set(key, value);
    return value;
  }

  /** A graph output: the value holding it, or a contiguous copy of its own. */
  port(name: string, node: Node): Port {
    const at = this.view(node);
    const whole = at.value.kind === "act" && isContiguous(at.view) &&
      at.value.size === sizeOf(node.type.shape);
    if (whole) return { name, value: at.value };
    const shape = node.type.shape;
    const value = this.newValue(shape, "act", `output ${JSON.stringify(name)}`);
    this.push({
      kind: "map",
      label: value.label,
      space: shape,
      epilogue: load(at),
      out: { value, view: contiguous(shape) },
    });
    return { name, value };
  }
}
