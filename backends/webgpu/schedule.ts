/**
 * The plan's kernels as WebGPU kernels: views mapped into each kernel's
 * coordinates (flat for maps, pools and direct convolutions; (m, column)
 * for GEMMs), constant GEMM weights packed [group][k][column] and split into
 * chunks that each fit one binding, split-K where a GEMM has too few
 * workgroups, and every value checked against the binding limit.
 */
import { RefoldError } from "../../ir/mod.ts";
import {
  contiguous,
  type GemmKernel,
  type Kernel,
  load,
  type MapKernel,
  mapViews,
  type PoolKernel,
  type Program,
  reshapeView,
  transposeView,
  type View,
} from "../plan/mod.ts";
import { chooseSplits, gemmWorkgroups } from "./kernels/split.ts";
import type { GpuLimits } from "./limits.ts";
import type { GemmSpec, KernelSpec, Operand } from "./spec.ts";
import { type GemmChunk, packedView, WeightTable } from "./weights.ts";

/** Below this many output channels per group a convolution runs as a direct kernel. */
const DIRECT_CONV_MAX_CHANNELS = 8;

/** A tensor that lives in a GPU buffer between kernels (weights live in pages instead). */
export interface ValueInfo {
  readonly id: number;
  readonly label: string;
  readonly elements: number;
  /**
   * Graph inputs and outputs are f32 buffers the caller reads and writes;
   * scratch values (split-K partial sums) are f32 too; act values are stored
   * as f32 or f16.
   */
  readonly role: "input" | "output" | "act" | "scratch" | "weight";
}

/** A named graph input or output and the value that holds it. */
export interface Port {
  readonly name: string;
  readonly shape: readonly number[];
  readonly value: number;
}

/** The program scheduled for WebGPU. */
export interface Scheduled {
  readonly values: readonly ValueInfo[];
  readonly weights: WeightTable;
  readonly kernels: readonly KernelSpec[];
  readonly inputs: readonly Port[];
  readonly outputs: readonly Port[];
}

class Scheduler {
  readonly values: ValueInfo[];
  readonly kernels: KernelSpec[] = [];
  readonly weights: WeightTable;

  constructor(program: Program, readonly limits: GpuLimits) {
    this.weights = new WeightTable(limits);
    const outputs = new Set(program.outputs.map((port) => port.value.id));
    this.values = program.values.map((value) => ({
      id: value.id,
      label: value.label,
      elements: value.size,
      role: value.kind !== "act" ? value.kind : outputs.has(value.id) ? "output" : "act",
    }));
    for (const value of this.values) if (value.role !== "weight") this.checkBinding(value);
  }

  /** Refuses a value that no binding can hold. */
  checkBinding(value: ValueInfo): void {
    const bytes = value.elements * 4;
    const limit = Math.min(this.limits.maxStorageBufferBindingSize, this.limits.maxBufferSize);
    if (bytes > limit) {
      throw new RefoldError(
        `webgpu: ${value.label}: the tensor needs ${mib(bytes)} in one buffer binding, ` +
          `over the limit of ${mib(limit)}; it cannot be split`,
      );
    }
  }

  /** A new f32 scratch value (split-K partial sums). */
  scratch(label: string, elements: number): number {
    const info: ValueInfo = { id: this.values.length, label, elements, role: "scratch" };
    this.checkBinding(info);
    this.values.push(info);
    return info.id;
  }

  map(kernel: MapKernel): void {
    const elements = viewElements(kernel.space);
    const flat = (view: View) => reshapeView(view, [elements]);
    this.kernels.push({
      kind: "map",
      label: kernel.label,
      elements,
      epilogue: mapViews(kernel.epilogue, flat),
      out: { id: kernel.out.value.id, view: flat(kernel.out.view) },
    });
  }

  pool(kernel: PoolKernel): void {
    const flat = (view: View) => reshapeView(view, [viewElements(kernel.space)]);
    this.kernels.push({
      kind: "pool",
      label: kernel.label,
      mode: kernel.mode === "max" ? "max" : "avg",
      x: load(kernel.x),
      geometry: kernel.geometry,
      countIncludePad: kernel.countIncludePad,
      epilogue: mapViews(kernel.epilogue, flat),
      out: { id: kernel.out.value.id, view: flat(kernel.out.view) },
    });
  }

  gemm(kernel: GemmKernel): void {
    const { shape } = kernel;
    if (shape.op === "conv" && kernel.n < DIRECT_CONV_MAX_CHANNELS) {
      const flat = (view: View) => reshapeView(view, [viewElements(kernel.space)]);
      const { outChannels, channels, groups, window: { kernel: [kh, kw] } } = shape.geometry;
      const w = this.weightOperand(kernel, [outChannels, channels / groups, kh, kw]);
      this.kernels.push({
        kind: "direct_conv",
        label: kernel.label,
        geometry: shape.geometry,
        x: kernel.a,
        w,
        epilogue: mapViews(kernel.epilogue, flat),
        out: { id: kernel.out.value.id, view: flat(kernel.out.view) },
      });
      return;
    }
    // A conv's plan space is [batch, outC, pixels]; the GEMM writes (pixel row m, column).
    const columns = kernel.groups * kernel.n;
    const toRows = shape.op === "conv"
      ? (view: View) => reshapeView(transposeView(view, [0, 2, 1]), [kernel.m, columns])
      : (view: View) => view;
    this.pushGemm({
      kind: "gemm",
      label: kernel.label,
      m: kernel.m,
      k: kernel.k,
      n: kernel.n,
      groups: kernel.groups,
      a: kernel.a,
      conv: shape.op === "conv" ? shape.geometry : undefined,
      epilogue: mapViews(kernel.epilogue, toRows),
      out: { id: kernel.out.value.id, view: toRows(kernel.out.view) },
    }, this.weightChunks(kernel));
  }

  /** A weight read as it is, in `shape` coordinates (direct convolutions). */
  weightOperand(kernel: GemmKernel, shape: readonly number[]): Operand {
    const { w } = kernel;
    if (w.kind === "constant") {
      return {
        ref: this.weights.raw(w.value),
        view: reshapeView(contiguous(w.value.shape), shape),
      };
    }
    return {
      ref: { kind: "value", id: w.operand.value.id },
      view: reshapeView(w.operand.view, shape),
    };
  }

  /** Chunks and operands of a GEMM weight (logical [groups * n, k]). */
  weightChunks(kernel: GemmKernel): { chunk: GemmChunk; operand: Operand }[] {
    const { w, n, k, groups } = kernel;
    if (w.kind === "computed") {
      const operand = {
        ref: { kind: "value" as const, id: w.operand.value.id },
        view: w.operand.view,
      };
      return [{ chunk: { g0: 0, gc: groups, nb: 0, nc: n }, operand }];
    }
    return this.weights.gemmChunks(w.value, n, k, groups).map((chunk) => ({
      chunk,
      operand: { ref: this.weights.gemmChunk(w.value, n, k, chunk), view: packedView(chunk, k) },
    }));
  }

  /** One kernel per chunk, split along k when that pays, then the reduce. */
  pushGemm(
    base: Omit<GemmSpec, "g0" | "gc" | "nb" | "nc" | "w" | "splits">,
    parts: { chunk: GemmChunk; operand: Operand }[],
  ): void {
    const workgroups = parts.reduce(
      (sum, { chunk }) => sum + gemmWorkgroups(base.m, chunk.gc, chunk.nc),
      0,
    );
    const splits = chooseSplits(workgroups, base.k, base.groups * base.n * base.k * 4);
    const columns = base.groups * base.n;
    const partial = splits > 1
      ? this.scratch(`${base.label} partial sums`, splits * base.m * columns)
      : -1;
    parts.forEach(({ chunk, operand }, index) => {
      const label = parts.length > 1
        ? `${base.label} [part ${index + 1}/${parts.length}]`
        : base.label;
      const out = splits > 1 ? { id: partial, view: contiguous([base.m, columns]) } : base.out;
      this.kernels.push({ ...base, ...chunk, w: operand, label, splits, out });
    });
    if (splits > 1) {
      this.kernels.push({
        kind: "reduce",
        label: `${base.label} [sum of ${splits} k-splits]`,
        m: base.m,
        columns,
        splits,
        partial,
        epilogue: base.epilogue,
        out: base.out,
      });
    }
  }
}

function viewElements(shape: readonly number[]): number {
  return shape.reduce((a, d) => a * d, 1);
}

function mib(bytes: number): string {
  return bytes >= 2 ** 20
    ? `${(bytes / 2 ** 20).toFixed(1)} MiB`
    : `${(bytes / 1024).toFixed(1)} KiB`;
}

const SCHEDULE: {
  readonly [K in Kernel["kind"]]: (s: Scheduler, k: Extract<Kernel, { kind: K }>) => void;
} = {
  gemm: (s, kernel) => s.gemm(kernel),
  pool: (s, kernel) => s.pool(kernel),
  map: (s, kernel) => s.map(kernel),
};

/** Schedules `program` for WebGPU within `limits`. */
export function scheduleWebGpu(program: Program, limits: GpuLimits): Scheduled {
  const scheduler = new Scheduler(program, limits);
  for (const kernel of program.kernels) {
    (SCHEDULE[kernel.kind] as (s: Scheduler, k: Kernel) => void)(scheduler, kernel);
  }
  const port = ({ name, value }: Program["inputs"][number]) => ({
    name,
    shape: value.shape,
    value: value.id,
  });
  return {
    values: scheduler.values,
    weights: scheduler.weights,
    kernels: scheduler.kernels,
    inputs: program.inputs.map(port),
    outputs: program.outputs.map(port),
  };
}
