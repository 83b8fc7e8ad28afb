/**
 * Pooling over NCHW views with affine axes: global average (vectorized over
 * a contiguous plane) here, windowed average and max in pool_window.ts.
 * Results go through the kernel's epilogue (a fused activation, scale or
 * residual) to its output view; a plain contiguous store, the common case,
 * walks one pointer.
 */
import type { PoolKernel } from "../../plan/mod.ts";
import { addr, f32, forLoop, FuncBuilder, get, i32, mul, set, type Sx, sx } from "../wat.ts";
import { accessOf, isDense, loadVector, rowAddress, storeVector } from "./access.ts";
import type { GenContext } from "./context.ts";
import { emitExpr, rowLocals, splitExpr } from "./epilogue.ts";
import { windowed } from "./pool_window.ts";

/** How a pool kernel stores results at output column `ox` of the current output row. */
export interface PoolOutput {
  /** Statements when an output row (b, c, oy) starts. */
  rowStart(oy: Sx): Sx[];
  /** Stores one result (an f32 expression). */
  scalar(value: Sx, ox: Sx): Sx[];
  /** Stores four neighbouring results (an f32x4 expression). */
  vector(value: Sx, ox: Sx): Sx[];
}

/** The output of `kernel`: a walking pointer when plain, else epilogue and view per element. */
function poolOutput(kernel: PoolKernel, ctx: GenContext, fb: FuncBuilder, bc: Sx[]): {
  start: Sx[];
  output: PoolOutput;
} {
  const { res } = ctx;
  const out = accessOf(kernel.out, kernel.space, res);
  const inner = (axis: number) => kernel.space.slice(axis + 1).reduce((a, d) => a * d, 1);
  const contiguous = kernel.epilogue.kind === "acc" && isDense(out) &&
    out.parts.every((part, axis) =>
      kernel.space[axis] === 1 || (part.kind === "affine" && part.stride === inner(axis))
    );
  if (contiguous) {
    const dst = fb.local("dst", "i32");
    return {
      start: [set(dst, i32(out.base))],
      output: {
        rowStart: () => [],
        scalar: (value) => [sx("f32.store", get(dst), value), set(dst, addr(get(dst), 4))],
        vector: (value) => [sx("v128.store", get(dst), value), set(dst, addr(get(dst), 16))],
      },
    };
  }
  const split = splitExpr(kernel.epilogue, kernel.space, res);
  const v = fb.local("v", "v128"), outRow = fb.local("out_row", "i32");
  const finish = (ox: Sx, lanes: number): Sx[] => [
    ...emitExpr(fb, split, {
      acc: v,
      load: (i) => loadVector(split.accesses[i], get(rows[i]), ox, lanes, res),
    }, v),
    ...storeVector(out, get(outRow), ox, get(v), lanes, res),
  ];
  let rows: string[] = [];
  return {
    start: [],
    output: {
      rowStart(oy) {
        const indices = [...bc, oy];
        const locals = rowLocals(fb, split.accesses, indices, res, "row");
        rows = locals.rows;
        return [set(outRow, rowAddress(out, indices, res)), ...locals.statements];
      },
      scalar: (value, ox) => [set(v, sx("f32x4.splat", value)), ...finish(ox, 1)],
      vector: (value, ox) => [set(v, value), ...finish(ox, 4)],
    },
  };
}

/** Emits a pool kernel; returns the function to call. */
export function emitPool(kernel: PoolKernel, ctx: GenContext): string {
  const { res, mod, index } = ctx;
  const fb = new FuncBuilder(`k${index}_${kernel.mode}pool`);
  const { batch, channels, height, width } = kernel.geometry;
  const x = accessOf(kernel.x, [batch, channels, height, width], res);
  const [sb, sc, sh, sw] = x.parts.map((part) => (part.kind === "affine" ? part.stride : 0));
  const b = fb.local("b", "i32"), c = fb.local("c", "i32"), plane = fb.local("plane", "i32");
  const acc = fb.local("acc", "f32");
  const { start, output } = poolOutput(kernel, ctx, fb, [get(b), get(c)]);
  const setPlane = set(plane, addr(addr(i32(x.base), mul(get(b), sb * 4)), mul(get(c), sc * 4)));
  const perPlane = kernel.mode === "global"
    ? globalAverage(fb, { plane, acc, height, width, sh, sw }, output)
    : windowed(fb, kernel, { plane, acc, sh, sw }, output);
  fb.emit(start);
  fb.emit(
    forLoop(
      b,
      { start: 0, end: batch },
      forLoop(c, { start: 0, end: channels }, [setPlane, ...perPlane]),
    ),
  );
  mod.add(fb);
  return fb.name;
}

function globalAverage(
  fb: FuncBuilder,
  g: { plane: string; acc: string; height: number; width: number; sh: number; sw: number },
  output: PoolOutput,
): Sx[] {
  const cells = g.height * g.width;
  const out: Sx[] = [];
  if (g.sw === 1 && g.sh === g.width && cells >= 4) {
    const i = fb.local("i", "i32"), sum = fb.local("sum", "v128");
    const whole = cells - (cells % 4);
    out.push(set(sum, sx("v128.const", "f32x4", "0", "0", "0", "0")));
    out.push(...forLoop(i, { start: 0, end: whole * 4, step: 16 }, [
      set(sum, sx("f32x4.add", get(sum), sx("v128.load", sx("i32.add", get(g.plane), get(i))))),
    ]));
    let total: Sx = sx("f32x4.extract_lane", "0", get(sum));
    for (let lane = 1; lane < 4; lane++) {
      total = sx("f32.add", total, sx("f32x4.extract_lane", String(lane), get(sum)));
    }
    out.push(set(g.acc, total));
    for (let r = whole; r < cells; r++) {
      out.push(set(g.acc, sx("f32.add", get(g.acc), sx("f32.load", addr(get(g.plane), r * 4)))));
    }
  } else {
    const y = fb.local("y", "i32"), x = fb.local("x", "i32");
    out.push(set(g.acc, f32(0)));
    out.push(...forLoop(
      y,
      { start: 0, end: g.height },
      forLoop(x, { start: 0, end: g.width }, [
        set(
          g.acc,
          sx(
            "f32.add",
            get(g.acc),
            sx("f32.load", addr(addr(get(g.plane), mul(get(y), g.sh * 4)), mul(get(x), g.sw * 4))),
          ),
        ),
      ]),
    ));
  }
  out.push(...output.rowStart(i32(0)));
  out.push(...output.scalar(sx("f32.div", get(g.acc), f32(cells)), i32(0)));
  return out;
}
