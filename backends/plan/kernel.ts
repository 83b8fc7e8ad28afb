/**
 * The kernel IR: what the plan makes of a deployed graph and every target
 * renders. Values are materialized tensors (graph inputs, weights, kernel
 * outputs); everything a movement op did survives only in the views through
 * which operands are read and results stored. Each kernel computes a core
 * (a GEMM, a pooling window, or nothing for maps) and applies one epilogue
 * expression in its index space before one store through `out`.
 *
 * GEMM kinds are data, so that new arithmetic is planned once: an int8 GEMM
 * is a GemmKernel with `arithmetic: "int8"` (chosen by plan/quantize.ts);
 * the target quantizes its constant weight per output channel at compile
 * time, quantizes A per row at run time, and dequantizes into the same
 * epilogue Expr (bias, activation, residual) as an f32 GEMM.
 */
import type { WindowGeometry } from "../../ir/mod.ts";
import type { Expr } from "./expr.ts";
import type { View } from "./view.ts";

/** How a value's elements are stored (f32 only today). */
export type StorageDType = "f32";

/** How a GEMM multiplies: f32, or int8 with dynamic per-row activations (plan/quantize.ts). */
export type GemmArithmetic = "f32" | "int8";

/** A materialized tensor. */
export interface Value {
  readonly id: number;
  readonly shape: readonly number[];
  /** Elements. */
  readonly size: number;
  /** input: fed by the caller; weight: a constant (with `data`); act: written by a kernel. */
  readonly kind: "input" | "weight" | "act";
  readonly dtype: StorageDType;
  /** Weight contents. */
  readonly data?: Float32Array;
  /** What it holds, for labels and error messages (model names escaped). */
  readonly label: string;
  /** A weight's name in the graph (what `--quantize-skip` matches). */
  readonly name?: string;
}

/** A value read or written through a view over some kernel's index space. */
export interface Operand {
  readonly value: Value;
  readonly view: View;
}

/** A GEMM's weight: a constant (packed by the target as it likes) or a computed tensor. */
export type GemmWeight =
  | { readonly kind: "constant"; readonly value: Value }
  /** A view over [groups * n, k]. */
  | { readonly kind: "computed"; readonly operand: Operand };

/** What a GEMM's A operand is: rows of a matrix, or an image read through a window. */
export type GemmShape =
  | { readonly op: "linear" }
  | { readonly op: "conv"; readonly geometry: WindowGeometry };

interface KernelBase {
  /** The node the kernel computes, for comments and error messages. */
  readonly label: string;
  /** The index space: the epilogue's loads and `out` are views over this shape. */
  readonly space: readonly number[];
  /** Applied to the core result (`acc`), element by element. */
  readonly epilogue: Expr;
  /** Where the result is stored. */
  readonly out: Operand;
}

/**
 * (Grouped) GEMM: out[m, g*n + j] = sum_i A[m, g*k + i] W[g*n + j, i].
 * Linear: A is an expression over [m, groups * k] and the index space is
 * [m, groups * n]. Conv: A is an expression over the NCHW input image,
 * m = batch * outH * outW, k = (C / groups) * kh * kw, n = O / groups, and
 * the index space is [batch, O, outH * outW].
 */
export interface GemmKernel extends KernelBase {
  readonly kind: "gemm";
  readonly shape: GemmShape;
  /**
   * Multiply-adds in f32, or in int8 (plan/quantize.ts decides which, from a
   * rule; only GEMMs with a constant weight can be int8).
   */
  readonly arithmetic: GemmArithmetic;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly groups: number;
  /** The A operand, with any fused producer (the prologue). */
  readonly a: Expr;
  /** [groups * n, k], PyTorch's out x in layout. */
  readonly w: GemmWeight;
}

/** Windowed pooling over an NCHW view; the index space is the output's shape. */
export interface PoolKernel extends KernelBase {
  readonly kind: "pool";
  /** "global": the average over each whole plane. */
  readonly mode: "avg" | "max" | "global";
  readonly countIncludePad: boolean;
  readonly geometry: WindowGeometry;
  readonly x: Operand;
}

/** Elementwise work: the epilogue is the whole computation (it never reads acc). */
export interface MapKernel extends KernelBase {
  readonly kind: "map";
}

/** Every kernel kind. */
export type Kernel = GemmKernel | PoolKernel | MapKernel;

/** A named graph input or output and the value that holds it. */
export interface Port {
  readonly name: string;
  readonly value: Value;
}

/** A deployed graph as kernels in execution order. */
export interface Program {
  readonly name: string;
  readonly values: readonly Value[];
  readonly kernels: readonly Kernel[];
  readonly inputs: readonly Port[];
  /** Each output is an act value of the output's shape, stored contiguously. */
  readonly outputs: readonly Port[];
}
