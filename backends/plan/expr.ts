/**
 * The kernel IR's one expression language, for epilogues (applied to a
 * kernel's core result, `acc`) and prologues (a GEMM's A operand computed
 * while it is loaded). Leaves load an operand through a view in the
 * coordinates of the kernel's index space; targets render each op from a
 * table keyed by ExprOp, so an op added here does not compile until every
 * target says how to render it.
 */
import type { Operand } from "./kernel.ts";
import type { View } from "./view.ts";

/** Unary functions (sqrt only for BatchNorm with computed statistics). */
export type UnaryOp = "relu" | "sigmoid" | "gelu" | "erf" | "sqrt";
/** Binary functions. */
export type BinaryOp = "add" | "sub" | "mul" | "div";
/** Every op of the expression language. */
export type ExprOp = UnaryOp | BinaryOp;

/** A load of an operand (a value read through a view over the kernel's index space). */
export interface LoadExpr {
  readonly kind: "load";
  readonly operand: Operand;
}

/** An elementwise expression. */
export type Expr =
  | { readonly kind: "acc" }
  | LoadExpr
  | { readonly kind: "const"; readonly value: number }
  | { readonly kind: "unary"; readonly op: UnaryOp; readonly x: Expr }
  | { readonly kind: "binary"; readonly op: BinaryOp; readonly a: Expr; readonly b: Expr };

/** The core result itself: the epilogue of a kernel that fuses nothing. */
export const ACC: Expr = Object.freeze({ kind: "acc" });

/** `op(a, b)`. */
export function binary(op: BinaryOp, a: Expr, b: Expr): Expr {
  return { kind: "binary", op, a, b };
}

/** `op(x)`. */
export function unary(op: UnaryOp, x: Expr): Expr {
  return { kind: "unary", op, x };
}

/** A load of `operand`. */
export function load(operand: Operand): LoadExpr {
  return { kind: "load", operand };
}

/** Every load leaf, left to right (subtrees shared by two parents count twice). */
export function loadsOf(expr: Expr): LoadExpr[] {
  const loads: LoadExpr[] = [];
  const stack: Expr[] = [expr];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.kind === "load") loads.push(node);
    else if (node.kind === "unary") stack.push(node.x);
    else if (node.kind === "binary") stack.push(node.b, node.a);
  }
  return loads;
}

/** True when `expr` reads the core result. */
export function readsAcc(expr: Expr): boolean {
  switch (expr.kind) {
    case "acc":
      return true;
    case "unary":
      return readsAcc(expr.x);
    case "binary":
      return readsAcc(expr.a) || readsAcc(expr.b);
    default:
      return false;
  }
}

/** The expression with every load's operand replaced by `map(operand)`; shared subtrees stay shared. */
export function mapLoads(expr: Expr, map: (operand: Operand) => Operand): Expr {
  const done = new Map<Expr, Expr>();
  const visit = (node: Expr): Expr => {
    const known = done.get(node);
    if (known) return known;
    let result: Expr;
    if (node.kind === "load") result = load(map(node.operand));
    else if (node.kind === "unary") result = unary(node.op, visit(node.x));
    else if (node.kind === "binary") result = binary(node.op, visit(node.a), visit(node.b));
    else result = node;
    done.set(node, result);
    return result;
  };
  return visit(expr);
}

/** The expression with every load's view mapped (into another index space). */
export function mapViews(expr: Expr, map: (view: View) => View): Expr {
  return mapLoads(expr, (operand) => ({ value: operand.value, view: map(operand.view) }));
}
