/**
 * Lowering: turns the groups of group.ts into kernel specifications, with
 * every operand read through an access in the kernel's own coordinates.
 * Values produced by kernels and fed by the caller get ids; weights become
 * entries of the weight file (GEMM weights packed [group][k][column] so that
 * loads along columns coalesce, and split when over the binding limit).
 */
import { isView, type Node, type OpAttrs, RefoldError, sizeOf } from "../../ir/mod.ts";
import {
  type Access,
  backThrough,
  contiguous,
  isContiguous,
  moveForward,
  reshapeAccess,
} from "./access.ts";
import { type Group, groupEnd } from "./group.ts";
import type { GpuLimits } from "./limits.ts";
import type { Expr, KernelSpec, Ref } from "./spec.ts";
import { WeightTable } from "./weights.ts";
import { describe, elementwiseExpr, type Frame, loadNode } from "./frame.ts";

/** A tensor that lives in a GPU buffer between kernels. */
export interface ValueInfo {
  readonly id: number;
  readonly label: string;
  readonly elements: number;
  /**
   * Graph inputs and outputs are f32 buffers the caller reads and writes;
   * scratch values (split-K partial sums) are f32 too; act values are stored
   * as f32 or f16.
   */
  role: "input" | "output" | "act" | "scratch";
}

/** A named graph input or output and the value that holds it. */
export interface Port {
  readonly name: string;
  readonly shape: readonly number[];
  readonly value: number;
}

/** The lowered graph. */
export interface Lowered {
  readonly values: readonly ValueInfo[];
  readonly weights: WeightTable;
  readonly kernels: readonly KernelSpec[];
  readonly inputs: readonly Port[];
  readonly outputs: readonly Port[];
}

/** State shared by the core lowerings. */
export class Lowerer {
  readonly values: ValueInfo[] = [];
  readonly kernels: KernelSpec[] = [];
  readonly weights: WeightTable;
  readonly limits: GpuLimits;
  readonly #views = new Map<Node, { ref: Ref; access: Access }>();

  constructor(limits: GpuLimits) {
    this.limits = limits;
    this.weights = new WeightTable(limits);
  }

  /** A new value holding `node` (contiguous in its shape). */
  materialize(node: Node, role: ValueInfo["role"] = "act"): number {
    const id = this.scratch(node, sizeOf(node.type.shape), role);
    this.#views.set(node, { ref: { kind: "value", id }, access: contiguous(node.type.shape) });
    return id;
  }

  /** A new value of `elements` (checked against the binding limit), labelled by `node`. */
  scratch(node: Node, elements: number, role: ValueInfo["role"] = "scratch"): number {
    const bytes = elements * 4;
    const limit = Math.min(this.limits.maxStorageBufferBindingSize, this.limits.maxBufferSize);
    if (bytes > limit) {
      throw new RefoldError(
        `webgpu: ${describe(node)}: the tensor needs ${mib(bytes)} in one buffer binding, ` +
          `over the limit of ${mib(limit)}; it cannot be split`,
      );
    }
    const id = this.values.length;
    this.values.push({ id, label: describe(node), elements, role });
    return id;
  }

  /** Where `node`'s value is: its buffer or weight entry, and the access in its shape. */
  view(node: Node): { ref: Ref; access: Access } {
    const known = this.#views.get(node);
    if (known) return known;
    let found: { ref: Ref; access: Access };
    if (node.op === "weight") {
      found = { ref: this.weights.raw(node), access: contiguous(node.type.shape) };
    } else if (isView(node)) {
      const input = this.view(node.inputs[0]);
      found = { ref: input.ref, access: moveForward(input.access, node) };
    } else throw new Error(`webgpu: ${describe(node)} was used before it was computed`);
    this.#views.set(node, found);
    return found;
  }

  /** Lowers the chain of `group` after a core whose result is `seed` in coordinates `space`. */
  finish(
    group: Group,
    seed: Expr,
    space: (access: Access) => Access,
  ): { epilogue: Expr; out: { id: number; access: Access } } {
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
        toKernel: (access) => space(backThrough(moves, access)),
      };
      const previous = current, prior = expr;
      expr = elementwiseExpr(
        this,
        node,
        frame,
        (input) => input === previous ? prior : loadNode(this, frame, input),
      );
      current = node;
    }
    const end = groupEnd(group);
    const id = this.materialize(end);
    return {
      epilogue: expr,
      out: { id, access: space(backThrough(moves, contiguous(end.type.shape))) },
    };
  }

  /** Lowers a group whose core is pooling, concat or elementwise. */
  lowerGroup(group: Group): void {
    const core = group.core;
    if (core.op === "concat") return this.#lowerConcat(core);
    const elements = sizeOf(core.type.shape);
    const flat = (access: Access) => reshapeAccess(access, [elements]);
    if (core.op === "avgpool" || core.op === "maxpool" || core.op === "global_avgpool") {
      const x = core.inputs[0];
      const [, , h, w] = x.type.shape;
      const attrs: Partial<OpAttrs["avgpool"]> = core.op === "global_avgpool"
        ? { kernel: [h, w], stride: [1, 1], pads: [0, 0, 0, 0], countIncludePad: true }
        : core.attrs;
      const { epilogue, out } = this.finish(group, { kind: "acc" }, flat);
      this.kernels.push({
        kind: "pool",
        label: describe(core),
        mode: core.op === "maxpool" ? "max" : "avg",
        x: loadNode(this, { shape: x.type.shape, toKernel: (a) => a }, x),
        inShape: x.type.shape,
        outShape: core.type.shape,
        kernel: attrs.kernel as [number, number],
        stride: attrs.stride as [number, number],
        pads: attrs.pads as [number, number, number, number],
        countIncludePad: attrs.countIncludePad ?? true,
        epilogue,
        out,
      });
      return;
    }
    const frame: Frame = { shape: core.type.shape, toKernel: flat };
    const seed = elementwiseExpr(this, core, frame, (input) => loadNode(this, frame, input));
    const { epilogue, out } = this.finish(group, seed, flat);
    this.kernels.push({ kind: "map", label: describe(core), elements, epilogue, out });
  }

  #lowerConcat(node: Node<"concat">): void {
    const id = this.materialize(node);
    const axis = node.attrs.axis;
    let start = 0;
    for (const input of node.inputs) {
      const elements = sizeOf(input.type.shape);
      const flat = (access: Access) => reshapeAccess(access, [elements]);
      const length = input.type.shape[axis];
      const target = narrowContiguous(node.type.shape, axis, start, length);
      this.kernels.push({
        kind: "map",
        label: describe(node),
        elements,
        epilogue: loadNode(this, { shape: input.type.shape, toKernel: flat }, input),
        out: { id, access: flat(target) },
      });
      start += length;
    }
  }

  /** Makes sure each graph output is a value of its own shape; copies views. */
  port(name: string, node: Node): Port {
    const found = this.view(node);
    const info = found.ref.kind === "value" ? this.values[found.ref.id] : undefined;
    if (info && info.role !== "input" && isContiguous(found.access)) {
      info.role = "output";
      return { name, shape: node.type.shape, value: info.id };
    }
    const elements = sizeOf(node.type.shape);
    const flat = (access: Access) => reshapeAccess(access, [elements]);
    const id = this.values.length;
    this.values.push({ id, label: `copy of ${describe(node)}`, elements, role: "output" });
    this.kernels.push({
      kind: "map",
      label: `output ${JSON.stringify(name)}`,
      elements,
      epilogue: loadNode(this, { shape: node.type.shape, toKernel: flat }, node),
      out: { id, access: contiguous([elements]) },
    });
    return { name, shape: node.type.shape, value: id };
  }
}

function narrowContiguous(shape: readonly number[], axis: number, start: number, length: number) {
  const outer = shape.slice(0, axis).reduce((a, d) => a * d, 1);
  const inner = shape.slice(axis + 1).reduce((a, d) => a * d, 1);
  const base = contiguous([outer, shape[axis], inner]);
  const layer = base.layers[0];
  const stride = inner;
  const axes = [layer.axes[0], length === 1 ? [] : [{ size: length, stride }], layer.axes[2]];
  const narrowed: Access = { layers: [{ axes, offset: start * stride }] };
  return reshapeAccess(narrowed, [...shape.slice(0, axis), length, ...shape.slice(axis + 1)]);
}

function mib(bytes: number): string {
  return bytes >= 2 ** 20
    ? `${(bytes / 2 ** 20).toFixed(1)} MiB`
    : `${(bytes / 1024).toFixed(1)} KiB`;
}
