/**
 * The kernel schedule: what lower.ts makes of a graph and what the kernel
 * generators turn into wasm. Values are materialized tensors; everything a
 * movement op did survives only as the views operands are read through.
 */
import type { View } from "./views.ts";

/** A materialized tensor: a graph input, a weight, or a kernel's output. */
export interface Value {
  readonly id: number;
  readonly shape: readonly number[];
  /** Elements. */
  readonly size: number;
  /** "weight" values live in the weights region; the others in the activation arena. */
  readonly home: "weight" | "arena";
  /** Weight contents (float32). */
  readonly data?: Float32Array;
  /** The graph name of an input or weight, for notes and messages. */
  readonly name?: string;
}

/** A value read through a view over the reading kernel's index space. */
export interface Operand {
  readonly value: Value;
  readonly view: View;
}

/** Unary functions an epilogue can apply. */
export type UnaryFn = "relu" | "sigmoid" | "gelu" | "erf";
/** Binary functions an epilogue can apply with an operand. */
export type BinaryFn = "add" | "sub" | "mul" | "div";

/** One fused elementwise step on the value a kernel computed. */
export type ChainOp =
  | { readonly kind: "unary"; readonly fn: UnaryFn }
  /** value = value fn operand, or operand fn value when `swap`. */
  | {
    readonly kind: "binary";
    readonly fn: BinaryFn;
    readonly operand: Operand;
    readonly swap: boolean;
  }
  /** Inference batchnorm whose parameters are not constants. */
  | {
    readonly kind: "batchnorm";
    readonly epsilon: number;
    readonly gamma: Operand;
    readonly beta: Operand;
    readonly mean: Operand;
    readonly variance: Operand;
  };

/** The fused tail of a kernel: ops applied per element, then the store. */
export interface Epilogue {
  readonly ops: readonly ChainOp[];
  /** Where each element goes (the view is over the kernel's index space). */
  readonly out: Operand;
}

/** A GEMM operand taken from the weights (packed once at load) or computed at run time. */
export type GemmWeight =
  | { readonly kind: "constant"; readonly value: Value }
  /** A computed tensor read as a [rows, k] matrix view. */
  | { readonly kind: "activation"; readonly operand: Operand };

/** Grouped fully-connected layer; index space [m, groups * n]. */
export interface LinearKernel {
  readonly kind: "linear";
  readonly label: string;
  /** The input as an [m, groups * k] matrix view. */
  readonly x: Operand;
  /** [groups * n, k] in PyTorch's out x in layout. */
  readonly weight: GemmWeight;
  readonly groups: number;
  readonly m: number;
  /** Features per group, in and out. */
  readonly k: number;
  readonly n: number;
  readonly epilogue: Epilogue;
}

/** 2-D convolution; index space [batch, outC, outH * outW]. */
export interface ConvKernel {
  readonly kind: "conv";
  readonly label: string;
  /** The input as a [batch, inC, inH, inW] view with affine axes. */
  readonly x: Operand;
  /** [outC, inC / groups * kh * kw]. */
  readonly weight: GemmWeight;
  readonly groups: number;
  readonly batch: number;
  readonly inShape: readonly [number, number, number, number];
  readonly outShape: readonly [number, number, number, number];
  readonly kernel: readonly [number, number];
  readonly stride: readonly [number, number];
  readonly pads: readonly [number, number, number, number];
  readonly dilation: readonly [number, number];
  readonly epilogue: Epilogue;
}

/** Elementwise work over `shape`: load the source, apply the epilogue. */
export interface ElementwiseKernel {
  readonly kind: "elementwise";
  readonly label: string;
  readonly shape: readonly number[];
  readonly source: Operand;
  readonly epilogue: Epilogue;
}

/** Windowed or global pooling over an NCHW view; writes a contiguous output. */
export interface PoolKernel {
  readonly kind: "pool";
  readonly label: string;
  readonly mode: "avg" | "max" | "global";
  readonly x: Operand;
  readonly out: Value;
  readonly inShape: readonly [number, number, number, number];
  readonly outShape: readonly [number, number, number, number];
  readonly kernel: readonly [number, number];
  readonly stride: readonly [number, number];
  readonly pads: readonly [number, number, number, number];
  readonly countIncludePad: boolean;
}

/** Every kernel kind. */
export type Kernel = LinearKernel | ConvKernel | ElementwiseKernel | PoolKernel;

/** A graph lowered to kernels in execution order. */
export interface Schedule {
  readonly name: string;
  readonly kernels: readonly Kernel[];
  readonly values: readonly Value[];
  readonly inputs: readonly { readonly name: string; readonly value: Value }[];
  readonly outputs: readonly { readonly name: string; readonly value: Value }[];
}

/** The value a kernel writes. */
export function outputOf(kernel: Kernel): Value {
  return kernel.kind === "pool" ? kernel.out : kernel.epilogue.out.value;
}

/** Every value a kernel reads. */
export function inputsOf(kernel: Kernel): Value[] {
  const values: Value[] = [];
  const operands = (ops: readonly ChainOp[]) =>
    ops.flatMap((op) =>
      op.kind === "binary"
        ? [op.operand]
        : op.kind === "batchnorm"
        ? [op.gamma, op.beta, op.mean, op.variance]
        : []
    );
  switch (kernel.kind) {
    case "linear":
    case "conv":
      values.push(kernel.x.value);
      values.push(
        kernel.weight.kind === "constant" ? kernel.weight.value : kernel.weight.operand.value,
      );
      break;
    case "elementwise":
      values.push(kernel.source.value);
      break;
    case "pool":
      values.push(kernel.x.value);
      return values;
  }
  values.push(...operands(kernel.epilogue.ops).map((operand) => operand.value));
  return values;
}
