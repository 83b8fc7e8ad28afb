/**
 * Standalone elementwise kernels (and copies: materialized views, concat
 * slices): a 2-D loop over [rows, columns] where the columns are the longest
 * run of trailing axes every operand walks with a single stride, so the
 * common case is one f32x4 load, the fused chain, one f32x4 store.
 */
import { sizeOf } from "../../../ir/mod.ts";
import type { ElementwiseKernel, Operand } from "../schedule.ts";
import { partsOf } from "../views.ts";
import { forLoop, FuncBuilder, get, i32, set, type Sx } from "../wat.ts";
import { accessOf, loadVector, rowAddress, storeVector } from "./access.ts";
import type { GenContext } from "./context.ts";
import { chainAccesses, chainSteps, emitChain, rowLocals } from "./epilogue.ts";

function operandsOf(kernel: ElementwiseKernel): Operand[] {
  const ops = kernel.epilogue.ops.flatMap((op) =>
    op.kind === "binary"
      ? [op.operand]
      : op.kind === "batchnorm"
      ? [op.gamma, op.beta, op.mean, op.variance]
      : []
  );
  return [kernel.source, ...ops, kernel.epilogue.out];
}

/** The [rows, columns] split with the longest affine column run (any split as a fallback). */
export function chooseSplit(shape: readonly number[], operands: readonly Operand[]): number[] {
  const total = sizeOf(shape);
  let fallback: number[] | undefined;
  for (let cut = 0; cut < shape.length; cut++) {
    const columns = sizeOf(shape.slice(cut));
    const counts = [total / columns, columns];
    const parts = operands.map((operand) => partsOf(operand.view, counts));
    if (parts.some((p) => p === undefined)) continue;
    if (parts.every((p) => p![1].kind === "affine")) return counts;
    fallback ??= counts;
  }
  return fallback ?? [1, total];
}

/** Emits an elementwise kernel; returns the function to call. */
export function emitElementwise(kernel: ElementwiseKernel, ctx: GenContext): string {
  const { res, mod, index } = ctx;
  const fb = new FuncBuilder(`k${index}_elementwise`);
  const counts = chooseSplit(kernel.shape, operandsOf(kernel));
  const [rows, columns] = counts;
  const source = accessOf(kernel.source, counts, res);
  const out = accessOf(kernel.epilogue.out, counts, res);
  const steps = chainSteps(kernel.epilogue.ops, counts, res);
  const m = fb.local("m", "i32"), n = fb.local("n", "i32"), v = fb.local("v", "v128");
  const src = fb.local("src", "i32"), dst = fb.local("dst", "i32");
  const { statements, rows: opRows } = rowLocals(fb, chainAccesses(steps), [get(m)], res, "row");
  const body = (at: Sx, lanes: number): Sx[] => [
    set(v, loadVector(source, get(src), at, lanes, res)),
    ...emitChain(fb, steps, { rows: opRows, n: at, lanes, v }, res),
    ...storeVector(out, get(dst), at, get(v), lanes, res),
  ];
  const whole = columns - (columns % 4);
  const perRow: Sx[] = [
    set(src, rowAddress(source, [get(m)], res)),
    set(dst, rowAddress(out, [get(m)], res)),
    ...statements,
    ...(whole > 0 ? forLoop(n, { start: 0, end: whole, step: 4 }, body(get(n), 4)) : []),
    ...(columns % 4 ? body(i32(whole), columns % 4) : []),
  ];
  fb.emit(forLoop(m, { start: 0, end: rows }, perRow));
  mod.add(fb);
  return fb.name;
}
