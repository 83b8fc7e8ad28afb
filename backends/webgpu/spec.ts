/**
 * Kernel specifications: what the lowering decides and the WGSL generators
 * render. A kernel reads through expressions whose leaves load a value or a
 * weight through an access, computes its core (GEMM, convolution, pooling or
 * nothing for plain elementwise maps), and applies an epilogue expression in
 * its output coordinates before one store through the output access.
 */
import type { Access } from "./access.ts";

/** Unary functions of the epilogue language (sqrt only for unfolded BatchNorm). */
export type UnaryOp = "relu" | "sigmoid" | "gelu" | "erf" | "sqrt";
/** Binary functions of the epilogue language. */
export type BinaryOp = "add" | "sub" | "mul" | "div";

/** What a load reads: an activation value (by value id) or a weight entry. */
export type Ref =
  | { readonly kind: "value"; readonly id: number }
  | { readonly kind: "weight"; readonly id: number };

/** An elementwise expression; loads are in the coordinates of the expression's space. */
export type Expr =
  | { readonly kind: "acc" }
  | { readonly kind: "load"; readonly ref: Ref; readonly access: Access }
  | { readonly kind: "const"; readonly value: number }
  | { readonly kind: "unary"; readonly op: UnaryOp; readonly x: Expr }
  | { readonly kind: "binary"; readonly op: BinaryOp; readonly a: Expr; readonly b: Expr };

/** A strided read of a weight or value with no arithmetic (GEMM and conv kernels). */
export interface Operand {
  readonly ref: Ref;
  readonly access: Access;
}

/** Geometry of a convolution (NCHW in, OIHW kernel). */
export interface ConvGeometry {
  readonly batch: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly outChannels: number;
  readonly outHeight: number;
  readonly outWidth: number;
  readonly kernel: readonly [number, number];
  readonly stride: readonly [number, number];
  /** [top, left, bottom, right]. */
  readonly pads: readonly [number, number, number, number];
  readonly dilation: readonly [number, number];
  readonly groups: number;
}

interface KernelCommon {
  /** Human-readable origin, for WGSL comments and error messages. */
  readonly label: string;
  /** Applied to the core result ("acc") in output coordinates. */
  readonly epilogue: Expr;
  /** Where the result goes: a value id and its access in output coordinates. */
  readonly out: { readonly id: number; readonly access: Access };
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
  readonly conv?: ConvGeometry;
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
  readonly geometry: ConvGeometry;
  /** The input in NCHW coordinates. */
  readonly x: Expr;
  /** The kernel in OIHW coordinates. */
  readonly w: Operand;
}

/** Windowed pooling (global average pooling is a window over the whole plane). */
export interface PoolSpec extends KernelCommon {
  readonly kind: "pool";
  readonly mode: "avg" | "max";
  readonly x: Expr;
  readonly inShape: readonly number[];
  readonly outShape: readonly number[];
  readonly kernel: readonly [number, number];
  readonly stride: readonly [number, number];
  readonly pads: readonly [number, number, number, number];
  readonly countIncludePad: boolean;
}

/** Elementwise map over `elements` flat output positions; the epilogue is the whole body. */
export interface MapSpec extends KernelCommon {
  readonly kind: "map";
  readonly elements: number;
}

/** Any kernel. */
export type KernelSpec = GemmSpec | ReduceSpec | DirectConvSpec | PoolSpec | MapSpec;

/** Every load leaf of an expression. */
export function loadsOf(expr: Expr, into: Extract<Expr, { kind: "load" }>[] = []) {
  if (expr.kind === "load") into.push(expr);
  else if (expr.kind === "unary") loadsOf(expr.x, into);
  else if (expr.kind === "binary") {
    loadsOf(expr.a, into);
    loadsOf(expr.b, into);
  }
  return into;
}

/** Every ref a kernel reads, in first-use order, without repeats. */
export function refsOf(kernel: KernelSpec): Ref[] {
  const refs: Ref[] = [];
  const add = (ref: Ref) => {
    if (!refs.some((r) => r.kind === ref.kind && r.id === ref.id)) refs.push(ref);
  };
  if (kernel.kind === "gemm") {
    loadsOf(kernel.a).forEach((load) => add(load.ref));
    add(kernel.w.ref);
  } else if (kernel.kind === "direct_conv") {
    loadsOf(kernel.x).forEach((load) => add(load.ref));
    add(kernel.w.ref);
  } else if (kernel.kind === "pool") loadsOf(kernel.x).forEach((load) => add(load.ref));
  else if (kernel.kind === "reduce") add({ kind: "value", id: kernel.partial });
  loadsOf(kernel.epilogue).forEach((load) => add(load.ref));
  return refs;
}
