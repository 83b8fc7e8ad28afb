/**
 * Map kernels (elementwise work, and copies: peeled views, concat slices,
 * outputs): a 2-D loop over [rows, columns] where the columns are the
 * longest run of trailing axes every operand walks with a single stride, so
 * the common case is f32x4 loads, the expression, one f32x4 store.
 */
import { sizeOf } from "../../../ir/mod.ts";
import { loadsOf, type MapKernel, type Operand } from "../../plan/mod.ts";
import { partsOf } from "../parts.ts";
import { forLoop, FuncBuilder, get, i32, set, type Sx } from "../wat.ts";
import { accessOf, loadVector, rowAddress, storeVector } from "./access.ts";
import type { GenContext } from "./context.ts";
import { emitExpr, rowLocals, splitExpr } from "./epilogue.ts";

/** The [rows, columns] split with the longest affine column run (any split as a fallback). */
export function chooseSplit(shape: readonly number[], operands: readonly Operand[]): number[] {
  const total = sizeOf(shape);
  let fallback: number[] | undefined;
  for (let cut = 0; cut < shape.length; cut++) {
    const columns = sizeOf(shape.slice(cut));
    const counts = [total / columns, columns];
    const parts = operands.map((operand) => partsOf(operand.view, counts));
    if (parts.some((p) => p === undefined)) continue;
    if (parts.every((p) => p!.parts[1].kind === "affine")) return counts;
    fallback ??= counts;
  }
  return fallback ?? [1, total];
}

/** Emits a map kernel; returns the function to call. */
export function emitElementwise(kernel: MapKernel, ctx: GenContext): string {
  const { res, mod, index } = ctx;
  const fb = new FuncBuilder(`k${index}_elementwise`);
  const operands = [...loadsOf(kernel.epilogue).map((leaf) => leaf.operand), kernel.out];
  const counts = chooseSplit(kernel.space, operands);
  const [rows, columns] = counts;
  const out = accessOf(kernel.out, counts, res);
  const split = splitExpr(kernel.epilogue, counts, res);
  const m = fb.local("m", "i32"), n = fb.local("n", "i32"), v = fb.local("v", "v128");
  const dst = fb.local("dst", "i32");
  const { statements, rows: rowOf } = rowLocals(fb, split.accesses, [get(m)], res, "row");
  const body = (at: Sx, lanes: number): Sx[] => [
    ...emitExpr(fb, split, {
      acc: v,
      load: (i) => loadVector(split.accesses[i], get(rowOf[i]), at, lanes, res),
    }, v),
    ...storeVector(out, get(dst), at, get(v), lanes, res),
  ];
  const whole = columns - (columns % 4);
  const perRow: Sx[] = [
    set(dst, rowAddress(out, [get(m)], res)),
    ...statements,
    ...(whole > 0 ? forLoop(n, { start: 0, end: whole, step: 4 }, body(get(n), 4)) : []),
    ...(columns % 4 ? body(i32(whole), columns % 4) : []),
  ];
  fb.emit(forLoop(m, { start: 0, end: rows }, perRow));
  mod.add(fb);
  return fb.name;
}
