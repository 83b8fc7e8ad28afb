/**
 * The WebGPU kernels: the plan's kernels (backends/plan) scheduled for this
 * target. A GEMM whose weights exceed one binding becomes several kernels
 * over chunks of packed weights; a GEMM with too few workgroups is split
 * along k (split-K) with a reduce kernel; a convolution with few output
 * channels per group runs direct. Expressions are the plan's; their views
 * are mapped into each kernel's own coordinates.
 */
import type { WindowGeometry } from "../../ir/mod.ts";
import { type Expr, loadsOf, type View } from "../plan/mod.ts";

/** What a binding reads: an activation value (by value id) or a weight entry. */
export type Ref =
  | { readonly kind: "value"; readonly id: number }
  | { readonly kind: "weight"; readonly id: number };

/** A strided read with no arithmetic (GEMM and conv weights). */
export interface Operand {
  readonly ref: Ref;
  readonly view: View;
}

interface KernelCommon {
  /** Human-readable origin, for WGSL comments and error messages. */
  readonly label: string;
  /** Applied to the core result ("acc") in output coordinates. */
  readonly epilogue: Expr;
  /** Where the result goes: a value id and its view in output coordinates. */
  readonly out: { readonly id: number; readonly view: View };
}

/**
 * (Grouped) GEMM: out[m, g*n + j] = sum_k a[m, g*k + i] w[g*n + j, i]. This
 * kernel computes groups [g0, g0 + gc) and, in each, columns [nb, nb + nc),
 * so that a weight over the binding limit can be split. Output coordinates
 * are (m, column). With `conv` set, `a` is read through im2col from x in
 * NCHW coordinates and m enumerates (batch, oy, ox).
 */
export interface GemmSpec extends KernelCommon {
  readonly kind: "gemm";
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly groups: number;
  readonly g0: number;
  readonly gc: number;
  readonly nb: number;
  readonly nc: number;
  /** The A operand: coordinates (m, k over all groups), or NCHW with `conv`. */
  readonly a: Expr;
  /** The weight in local coordinates (row (g - g0) * nc + j - nb, i) over [gc * nc, k]. */
  readonly w: Operand;
  readonly conv?: WindowGeometry;
  /**
   * Split-K: with splits > 1, workgroups also divide k into `splits` ranges and
   * write raw sums to the f32 value `out.id` laid out [split][m][column]; a
   * reduce kernel adds them and applies the epilogue.
   */
  readonly splits: number;
}

/** Sums split-K partials [split][m][column] and applies the GEMM's epilogue. */
export interface ReduceSpec extends KernelCommon {
  readonly kind: "reduce";
  readonly m: number;
  readonly columns: number;
  readonly splits: number;
  readonly partial: number;
}

/** Direct convolution, one output per invocation; output coordinates are flat NCHW. */
export interface DirectConvSpec extends KernelCommon {
  readonly kind: "direct_conv";
  readonly geometry: WindowGeometry;
  /** The input in NCHW coordinates. */
  readonly x: Expr;
  /** The kernel in OIHW coordinates. */
  readonly w: Operand;
}

/** Windowed pooling (global average pooling is a window over the whole plane). */
export interface PoolSpec extends KernelCommon {
  readonly kind: "pool";
  readonly mode: "avg" | "max";
  /** The input in NCHW coordinates. */
  readonly x: Expr;
  readonly geometry: WindowGeometry;
  readonly countIncludePad: boolean;
}

/** Elementwise map over `elements` flat output positions; the epilogue is the whole body. */
export interface MapSpec extends KernelCommon {
  readonly kind: "map";
  readonly elements: number;
}

/** Any kernel. */
export type KernelSpec = GemmSpec | ReduceSpec | DirectConvSpec | PoolSpec | MapSpec;

/** The value ids of activations a kernel reads (weights excluded), without repeats. */
export function valuesRead(kernel: KernelSpec): number[] {
  const ids = new Set<number>();
  const exprs = kernel.kind === "gemm"
    ? [kernel.a]
    : kernel.kind === "direct_conv" || kernel.kind === "pool"
    ? [kernel.x]
    : [];
  for (const expr of [...exprs, kernel.epilogue]) {
    for (const leaf of loadsOf(expr)) {
      if (leaf.operand.value.kind !== "weight") ids.add(leaf.operand.value.id);
    }
  }
  if ((kernel.kind === "gemm" || kernel.kind === "direct_conv") && kernel.w.ref.kind === "value") {
    ids.add(kernel.w.ref.id);
  }
  if (kernel.kind === "reduce") ids.add(kernel.partial);
  return [...ids];
}
