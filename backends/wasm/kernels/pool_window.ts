/**
 * Windowed average and max pooling, scalar with the reference's divisor
 * rules (padded cells count when countIncludePad, the window is clipped to
 * the padded extent; padding never wins a max), with fast paths for windows
 * inside the image: one at a time at constant offsets, or four neighbours
 * at once in f32x4.
 */
import type { PoolKernel } from "../../plan/mod.ts";
import {
  addr,
  f32,
  f32x4,
  forLoop,
  type FuncBuilder,
  get,
  i32,
  ifElse,
  mul,
  set,
  type Sx,
  sx,
} from "../wat.ts";
import type { PoolOutput } from "./pool.ts";

const maxS = (a: Sx, b: Sx) => sx("select", a, b, sx("i32.gt_s", a, b));
const minS = (a: Sx, b: Sx) => sx("select", a, b, sx("i32.lt_s", a, b));

/** A loop `for (v = start; v < end; v++)` with run-time bounds that may be empty. */
function whileLoop(variable: string, start: Sx, end: Sx, body: readonly Sx[]): Sx[] {
  const label = `$${variable}_w`;
  return [
    set(variable, start),
    sx(
      "block",
      `${label}_done`,
      sx(
        "loop",
        label,
        sx("br_if", `${label}_done`, sx("i32.ge_s", get(variable), end)),
        ...body,
        set(variable, sx("i32.add", get(variable), i32(1))),
        sx("br", label),
      ),
    ),
  ];
}

/** Locals and input strides the window code shares. */
interface WindowLocals {
  readonly plane: string;
  readonly acc: string;
  readonly sh: number;
  readonly sw: number;
}

/** acc = the pooled value of a window that may cross the border (bounds from y0..y1, x0..x1). */
function borderWindow(fb: FuncBuilder, kernel: PoolKernel, g: WindowLocals): Sx[] {
  const { height, width, window: { kernel: [kh, kw], pads } } = kernel.geometry;
  const [, , pb, pr] = pads;
  const y = fb.local("y", "i32"), x = fb.local("x", "i32");
  const y0 = fb.local("y0", "i32"), x0 = fb.local("x0", "i32");
  const y1 = fb.local("y1", "i32"), x1 = fb.local("x1", "i32");
  const isMax = kernel.mode === "max";
  const load = sx(
    "f32.load",
    addr(addr(get(g.plane), mul(get(y), g.sh * 4)), mul(get(x), g.sw * 4)),
  );
  const combine = isMax ? sx("f32.max", get(g.acc), load) : sx("f32.add", get(g.acc), load);
  const lo = (v: string) => maxS(get(v), i32(0));
  let divisor: Sx;
  if (kernel.countIncludePad) {
    const spanY = sx("i32.sub", minS(sx("i32.add", get(y0), i32(kh)), i32(height + pb)), get(y0));
    const spanX = sx("i32.sub", minS(sx("i32.add", get(x0), i32(kw)), i32(width + pr)), get(x0));
    divisor = sx("i32.mul", spanY, spanX);
  } else {
    divisor = sx("i32.mul", sx("i32.sub", get(y1), lo(y0)), sx("i32.sub", get(x1), lo(x0)));
  }
  return [
    set(g.acc, f32(isMax ? -Infinity : 0)),
    ...whileLoop(y, lo(y0), get(y1), whileLoop(x, lo(x0), get(x1), [set(g.acc, combine)])),
    ...(isMax ? [] : [set(g.acc, sx("f32.div", get(g.acc), sx("f32.convert_i32_s", divisor)))]),
  ];
}

/**
 * acc = the pooled value of a window entirely inside the image (nearly all
 * of them): kh*kw cells at constant offsets from its corner, with no bounds,
 * loops or divisor arithmetic.
 */
function interiorWindow(kernel: PoolKernel, g: WindowLocals, corner: string): Sx[] {
  const [kh, kw] = kernel.geometry.window.kernel;
  const isMax = kernel.mode === "max";
  const cells: Sx[] = [];
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      const offset = (ky * g.sh + kx * g.sw) * 4;
      cells.push(sx("f32.load", offset > 0 && `offset=${offset}`, get(corner)));
    }
  }
  const reduced = cells.slice(1).reduce(
    (a, cell) => sx(isMax ? "f32.max" : "f32.add", a, cell),
    cells[0],
  );
  return [set(g.acc, isMax ? reduced : sx("f32.div", reduced, f32(kh * kw)))];
}

/**
 * Four neighbouring interior windows at once: f32x4 max/add (scalar f32.max
 * compiles to branches that random data mispredicts), lanes gathered by the
 * column stride.
 */
function fourWindows(kernel: PoolKernel, g: WindowLocals, corner: string): Sx {
  const { kernel: [kh, kw], stride } = kernel.geometry.window;
  const isMax = kernel.mode === "max";
  const lanes = (offset: number): Sx => {
    const at = (extra: number) => (offset + extra > 0 ? `offset=${offset + extra}` : false);
    const step = stride[1] * g.sw * 4;
    if (step === 4) return sx("v128.load", at(0), get(corner));
    if (step === 8) {
      const evens = "0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27";
      return sx(
        "i8x16.shuffle",
        evens,
        sx("v128.load", at(0), get(corner)),
        sx("v128.load", at(16), get(corner)),
      );
    }
    let v: Sx = sx("f32x4.splat", sx("f32.load", at(0), get(corner)));
    for (let j = 1; j < 4; j++) {
      v = sx("f32x4.replace_lane", String(j), v, sx("f32.load", at(j * step), get(corner)));
    }
    return v;
  };
  const vectors: Sx[] = [];
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) vectors.push(lanes((ky * g.sh + kx * g.sw) * 4));
  }
  const summed = vectors.slice(1).reduce(
    (a, v) => sx(isMax ? "f32x4.max" : "f32x4.add", a, v),
    vectors[0],
  );
  return isMax ? summed : sx("f32x4.div", summed, f32x4(kh * kw));
}

/** Output indices [first, last) whose windows lie inside the image along one axis. */
function insideRange(pad: number, stride: number, size: number, k: number, out: number) {
  const first = Math.min(out, Math.ceil(pad / stride));
  const last = Math.max(first, Math.min(out, Math.floor((size - k + pad) / stride) + 1));
  return [first, last] as const;
}

/** The loops over one plane's output rows and columns. */
export function windowed(
  fb: FuncBuilder,
  kernel: PoolKernel,
  g: WindowLocals,
  output: PoolOutput,
): Sx[] {
  const { height, width, outHeight, outWidth, window } = kernel.geometry;
  const [kh, kw] = window.kernel;
  const [strideY, strideX] = window.stride;
  const [pt, pl] = window.pads;
  const oy = fb.local("oy", "i32"), ox = fb.local("ox", "i32");
  const y0 = fb.local("y0", "i32"), x0 = fb.local("x0", "i32");
  const y1 = fb.local("y1", "i32"), x1 = fb.local("x1", "i32");
  const corner = fb.local("corner", "i32"), rowInside = fb.local("row_inside", "i32");
  const setCorner = set(
    corner,
    addr(addr(get(g.plane), mul(get(y0), g.sh * 4)), mul(get(x0), g.sw * 4)),
  );
  const [oyLo, oyHi] = insideRange(pt, strideY, height, kh, outHeight);
  const [oxLo, oxHi] = insideRange(pl, strideX, width, kw, outWidth);
  const inside = (v: string, [from, to]: readonly [number, number]) =>
    sx("i32.lt_u", sx("i32.sub", get(v), i32(from)), i32(to - from));
  const one = [
    ifElse(
      sx("i32.and", get(rowInside), inside(ox, [oxLo, oxHi])),
      [setCorner, ...interiorWindow(kernel, g, corner)],
      borderWindow(fb, kernel, g),
    ),
    ...output.scalar(get(g.acc), get(ox)),
    set(ox, addr(get(ox), 1)),
  ];
  const four = [
    setCorner,
    ...output.vector(fourWindows(kernel, g, corner), get(ox)),
    set(ox, addr(get(ox), 4)),
  ];
  const fourInside = oxHi - oxLo >= 4
    ? sx("i32.and", get(rowInside), inside(ox, [oxLo, oxHi - 3]))
    : undefined;
  return forLoop(oy, { start: 0, end: outHeight }, [
    set(y0, sx("i32.sub", mul(get(oy), strideY), i32(pt))),
    set(y1, minS(sx("i32.add", get(y0), i32(kh)), i32(height))),
    set(rowInside, inside(oy, [oyLo, oyHi])),
    ...output.rowStart(get(oy)),
    set(ox, i32(0)),
    sx(
      "loop",
      "$ox_loop",
      set(x0, sx("i32.sub", mul(get(ox), strideX), i32(pl))),
      set(x1, minS(sx("i32.add", get(x0), i32(kw)), i32(width))),
      ...(fourInside ? [ifElse(fourInside, four, one)] : one),
      sx("br_if", "$ox_loop", sx("i32.lt_u", get(ox), i32(outWidth))),
    ),
  ]);
}
