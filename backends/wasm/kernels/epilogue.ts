/**
 * Fused epilogues: the chain of elementwise steps (bias, activations,
 * residual add, global-perceptron scale, batchnorm) applied to each f32x4 a
 * kernel computed, just before the store. Operands are read through their
 * views (see access.ts), so a per-channel scale broadcast over an
 * un-partitioned layout costs one splat or a few lane loads, never a pass.
 */
import type { Resources } from "../resources.ts";
import type { BinaryFn, ChainOp, Operand } from "../schedule.ts";
import { f32x4, type FuncBuilder, get, set, type Sx, sx } from "../wat.ts";
import { type Access, accessOf, loadVector, rowAddress } from "./access.ts";
import { UNARY } from "./vmath.ts";

/** A chain op with its operands split for the kernel's loops. */
export interface ChainStep {
  readonly op: ChainOp;
  readonly operands: readonly Access[];
}

const BINARY: { readonly [F in BinaryFn]: string } = {
  add: "f32x4.add",
  sub: "f32x4.sub",
  mul: "f32x4.mul",
  div: "f32x4.div",
};

function operandsOf(op: ChainOp): Operand[] {
  if (op.kind === "binary") return [op.operand];
  if (op.kind === "batchnorm") return [op.mean, op.variance, op.gamma, op.beta];
  return [];
}

/** Splits every operand of `ops` at `counts`. */
export function chainSteps(
  ops: readonly ChainOp[],
  counts: readonly number[],
  res: Resources,
): ChainStep[] {
  return ops.map((op) => ({
    op,
    operands: operandsOf(op).map((operand) => accessOf(operand, counts, res)),
  }));
}

/** Every access of a chain, in a fixed order (for row-address locals). */
export function chainAccesses(steps: readonly ChainStep[]): Access[] {
  return steps.flatMap((step) => step.operands);
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

/**
 * Applies the chain to the f32x4 local `v` at column `n` of the current row,
 * `lanes` lanes valid. `rows` names the row-address local of each operand
 * access, in chainAccesses order.
 */
export function emitChain(
  fb: FuncBuilder,
  steps: readonly ChainStep[],
  context: { rows: readonly string[]; n: Sx; lanes: number; v: string },
  res: Resources,
): Sx[] {
  const { n, lanes, v } = context;
  const out: Sx[] = [];
  let next = 0;
  const load = (access: Access) => loadVector(access, get(context.rows[next++]), n, lanes, res);
  for (const step of steps) {
    const op = step.op;
    if (op.kind === "unary") {
      out.push(...UNARY[op.fn](fb, v));
    } else if (op.kind === "binary") {
      const t = fb.local("operand", "v128");
      out.push(set(t, load(step.operands[0])));
      const [a, b] = op.swap ? [get(t), get(v)] : [get(v), get(t)];
      out.push(set(v, sx(BINARY[op.fn], a, b)));
    } else {
      const [mean, variance, gamma, beta] = step.operands.map(load);
      const scale = sx(
        "f32x4.div",
        gamma,
        sx("f32x4.sqrt", sx("f32x4.add", variance, f32x4(op.epsilon))),
      );
      out.push(
        set(v, sx("f32x4.add", sx("f32x4.mul", sx("f32x4.sub", get(v), mean), scale), beta)),
      );
    }
  }
  return out;
}
