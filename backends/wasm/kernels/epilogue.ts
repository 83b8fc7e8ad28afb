/**
 * The plan's expressions (epilogues, prologues, elementwise maps) as f32x4
 * code. Every op is rendered from the tables in vmath.ts; loads go through
 * each operand's view (see access.ts), so a per-channel scale broadcast
 * over an un-partitioned layout costs one splat or a few lane loads, never a
 * pass. Values live in v128 locals: the spine that reads `acc` is computed
 * in place in the destination (the common bias + activation + residual chain
 * is then one local), loads and constants are used where they are needed,
 * an operand read twice is loaded once, and anything else goes through a
 * temporary `t<depth>`.
 */
import { type Expr, type LoadExpr, loadsOf, readsAcc } from "../../plan/mod.ts";
import type { Resources } from "../resources.ts";
import { f32x4, type FuncBuilder, get, set, type Sx, sx } from "../wat.ts";
import { type Access, accessOf, rowAddress } from "./access.ts";
import { BINARY, UNARY } from "./vmath.ts";

/** An expression with the operand of each distinct load split for a kernel's loops. */
export interface SplitExpr {
  readonly expr: Expr;
  /** Each load leaf's index in `accesses`. */
  readonly leaves: ReadonlyMap<LoadExpr, number>;
  readonly accesses: readonly Access[];
}

/** Splits every distinct operand `expr` loads at `counts` (equal loads share one access). */
export function splitExpr(expr: Expr, counts: readonly number[], res: Resources): SplitExpr {
  const leaves = new Map<LoadExpr, number>();
  const byOperand = new Map<string, number>();
  const accesses: Access[] = [];
  for (const leaf of loadsOf(expr)) {
    if (leaves.has(leaf)) continue;
    const key = `${leaf.operand.value.id}:${JSON.stringify(leaf.operand.view)}`;
    let index = byOperand.get(key);
    if (index === undefined) {
      byOperand.set(key, index = accesses.length);
      accesses.push(accessOf(leaf.operand, counts, res));
    }
    leaves.set(leaf, index);
  }
  return { expr, leaves, accesses };
}

/**
 * Sets one row-address local per access from the outer loop indices;
 * returns the statements and the locals' names.
 */
export function rowLocals(
  fb: FuncBuilder,
  accesses: readonly Access[],
  indices: readonly Sx[],
  res: Resources,
  prefix: string,
): { statements: Sx[]; rows: string[] } {
  const rows = accesses.map((_access, i) => fb.local(`${prefix}${i}`, "i32"));
  const statements = accesses.map((access, i) => set(rows[i], rowAddress(access, indices, res)));
  return { statements, rows };
}

/** Where an expression's inputs come from while it is rendered. */
export interface ExprInputs {
  /** The f32x4 local holding the core result. */
  readonly acc: string;
  /** The f32x4 value of access `index` at the current position. */
  readonly load: (index: number) => Sx;
}

/** Loads every operand read more than once into a local first; returns how to read each. */
function loadOnce(fb: FuncBuilder, split: SplitExpr, inputs: ExprInputs, out: Sx[]) {
  const uses = new Map<number, number>();
  for (const leaf of loadsOf(split.expr)) {
    const index = split.leaves.get(leaf)!;
    uses.set(index, (uses.get(index) ?? 0) + 1);
  }
  const loaded = new Map<number, string>();
  for (const [index, count] of uses) {
    if (count < 2) continue;
    const local = fb.local(`l${index}`, "v128");
    out.push(set(local, inputs.load(index)));
    loaded.set(index, local);
  }
  return (index: number): Sx => {
    const local = loaded.get(index);
    return local ? get(local) : inputs.load(index);
  };
}

/** Statements that leave `split.expr`'s value in the f32x4 local `dst`. */
export function emitExpr(
  fb: FuncBuilder,
  split: SplitExpr,
  inputs: ExprInputs,
  dst: string,
): Sx[] {
  const out: Sx[] = [];
  const temp = (depth: number) => fb.local(`t${depth}`, "v128");
  const load = loadOnce(fb, split, inputs, out);
  // Loads and constants are used in place: no temporary.
  const leaf = (expr: Expr): Sx | undefined =>
    expr.kind === "load"
      ? load(split.leaves.get(expr)!)
      : expr.kind === "const"
      ? f32x4(expr.value)
      : undefined;
  const render = (expr: Expr, into: string, depth: number): void => {
    switch (expr.kind) {
      case "acc":
        if (into !== inputs.acc) out.push(set(into, get(inputs.acc)));
        return;
      case "const":
        out.push(set(into, f32x4(expr.value)));
        return;
      case "load":
        out.push(set(into, load(split.leaves.get(expr)!)));
        return;
      case "unary":
        render(expr.x, into, depth);
        out.push(...UNARY[expr.op](fb, into));
        return;
      case "binary": {
        const op = BINARY[expr.op];
        const left = readsAcc(expr.a), right = readsAcc(expr.b);
        const leafB = leaf(expr.b), leafA = leaf(expr.a);
        if (leafB) {
          render(expr.a, into, depth);
          out.push(set(into, sx(op, get(into), leafB)));
        } else if (leafA && right) {
          render(expr.b, into, depth);
          out.push(set(into, sx(op, leafA, get(into))));
        } else if (left && right) {
          // Both sides read acc: neither may overwrite it before the other has read it.
          const a = temp(depth), b = temp(depth + 1);
          render(expr.a, a, depth + 1);
          render(expr.b, b, depth + 2);
          out.push(set(into, sx(op, get(a), get(b))));
        } else if (right) {
          const a = temp(depth);
          render(expr.b, into, depth);
          render(expr.a, a, depth + 1);
          out.push(set(into, sx(op, get(a), get(into))));
        } else {
          const b = temp(depth);
          render(expr.a, into, depth);
          render(expr.b, b, depth + 1);
          out.push(set(into, sx(op, get(into), get(b))));
        }
        return;
      }
    }
  };
  render(split.expr, dst, 0);
  return out;
}
