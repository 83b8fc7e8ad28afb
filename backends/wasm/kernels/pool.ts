/**
 * Pooling over NCHW views with affine axes: global average (vectorized over
 * a contiguous plane), windowed average and max (scalar, with the
 * reference's divisor rules: padded cells count when countIncludePad, the
 * window is clipped to the padded extent; padding never wins a max).
 */
import type { PoolKernel } from "../schedule.ts";
import {
  addr,
  f32,
  f32x4,
  forLoop,
  FuncBuilder,
  get,
  i32,
  ifElse,
  mul,
  set,
  type Sx,
  sx,
} from "../wat.ts";
import { accessOf } from "./access.ts";
import type { GenContext } from "./context.ts";

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

/** Emits a pool kernel; returns the function to call. */
export function emitPool(kernel: PoolKernel, ctx: GenContext): string {
  const { res, mod, index } = ctx;
  const fb = new FuncBuilder(`k${index}_${kernel.mode}pool`);
  const [batch, channels, inH, inW] = kernel.inShape;
  const [, , outH, outW] = kernel.outShape;
  const x = accessOf(kernel.x, kernel.inShape, res);
  const [sb, sc, sh, sw] = x.parts.map((part) => (part.kind === "affine" ? part.stride : 0));
  const outBase = res.value(kernel.out);
  const b = fb.local("b", "i32"), c = fb.local("c", "i32"), plane = fb.local("plane", "i32");
  const dst = fb.local("dst", "i32"), acc = fb.local("acc", "f32");
  const setPlane = set(plane, addr(addr(i32(x.base), mul(get(b), sb * 4)), mul(get(c), sc * 4)));
  let perPlane: Sx[];
  if (kernel.mode === "global") perPlane = globalAverage(fb, { plane, dst, acc, inH, inW, sh, sw });
  else perPlane = windowed(fb, kernel, { plane, dst, acc, sh, sw, outH, outW });
  fb.emit(set(dst, i32(outBase)));
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
  g: { plane: string; dst: string; acc: string; inH: number; inW: number; sh: number; sw: number },
): Sx[] {
  const cells = g.inH * g.inW;
  const out: Sx[] = [];
  if (g.sw === 1 && g.sh === g.inW && cells >= 4) {
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
      { start: 0, end: g.inH },
      forLoop(x, { start: 0, end: g.inW }, [
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
  out.push(sx("f32.store", get(g.dst), sx("f32.div", get(g.acc), f32(cells))));
  out.push(set(g.dst, addr(get(g.dst), 4)));
  return out;
}

function windowed(
  fb: FuncBuilder,
  kernel: PoolKernel,
  g: {
    plane: string;
    dst: string;
    acc: string;
    sh: number;
    sw: number;
    outH: number;
    outW: number;
  },
): Sx[] {
  const [, , inH, inW] = kernel.inShape;
  const [kh, kw] = kernel.kernel;
  const [strideY, strideX] = kernel.stride;
  const [pt, pl, pb, pr] = kernel.pads;
  const oy = fb.local("oy", "i32"), ox = fb.local("ox", "i32");
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
    const spanY = sx("i32.sub", minS(sx("i32.add", get(y0), i32(kh)), i32(inH + pb)), get(y0));
    const spanX = sx("i32.sub", minS(sx("i32.add", get(x0), i32(kw)), i32(inW + pr)), get(x0));
    divisor = sx("i32.mul", spanY, spanX);
  } else {
    divisor = sx("i32.mul", sx("i32.sub", get(y1), lo(y0)), sx("i32.sub", get(x1), lo(x0)));
  }
  const result = isMax ? get(g.acc) : sx("f32.div", get(g.acc), sx("f32.convert_i32_s", divisor));
  const general = [
    set(g.acc, f32(isMax ? -Infinity : 0)),
    ...whileLoop(y, lo(y0), get(y1), whileLoop(x, lo(x0), get(x1), [set(g.acc, combine)])),
    sx("f32.store", get(g.dst), result),
  ];
  // Windows entirely inside the image (nearly all of them) read kh*kw cells at constant
  // offsets from the window's corner, with no bounds, loops or divisor arithmetic.
  const corner = fb.local("corner", "i32");
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
  const interior = [
    set(corner, addr(addr(get(g.plane), mul(get(y0), g.sh * 4)), mul(get(x0), g.sw * 4))),
    sx("f32.store", get(g.dst), isMax ? reduced : sx("f32.div", reduced, f32(kh * kw))),
  ];
  // Four neighbouring interior windows at once: f32x4 max/add (scalar f32.max compiles to
  // branches that random data mispredicts), lanes gathered by the column stride.
  const lanes = (offset: number): Sx => {
    const at = (extra: number) => (offset + extra > 0 ? `offset=${offset + extra}` : false);
    const step = strideX * g.sw * 4;
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
  const four = [
    set(corner, addr(addr(get(g.plane), mul(get(y0), g.sh * 4)), mul(get(x0), g.sw * 4))),
    sx("v128.store", get(g.dst), isMax ? summed : sx("f32x4.div", summed, f32x4(kh * kw))),
    set(g.dst, addr(get(g.dst), 16)),
    set(ox, addr(get(ox), 4)),
  ];
  const range = (pad: number, stride: number, size: number, k: number, out: number) => {
    const first = Math.min(out, Math.ceil(pad / stride));
    const last = Math.max(first, Math.min(out, Math.floor((size - k + pad) / stride) + 1));
    return [first, last] as const;
  };
  const [oyLo, oyHi] = range(pt, strideY, inH, kh, g.outH);
  const [oxLo, oxHi] = range(pl, strideX, inW, kw, g.outW);
  const inside = (v: string, [from, to]: readonly [number, number]) =>
    sx("i32.lt_u", sx("i32.sub", get(v), i32(from)), i32(to - from));
  const rowInside = fb.local("row_inside", "i32");
  const one = [
    ifElse(sx("i32.and", get(rowInside), inside(ox, [oxLo, oxHi])), interior, general),
    set(g.dst, addr(get(g.dst), 4)),
    set(ox, addr(get(ox), 1)),
  ];
  const fourInside = oxHi - oxLo >= 4
    ? sx("i32.and", get(rowInside), inside(ox, [oxLo, oxHi - 3]))
    : undefined;
  return forLoop(oy, { start: 0, end: g.outH }, [
    set(y0, sx("i32.sub", mul(get(oy), strideY), i32(pt))),
    set(y1, minS(sx("i32.add", get(y0), i32(kh)), i32(inH))),
    set(rowInside, inside(oy, [oyLo, oyHi])),
    set(ox, i32(0)),
    sx(
      "loop",
      "$ox_loop",
      set(x0, sx("i32.sub", mul(get(ox), strideX), i32(pl))),
      set(x1, minS(sx("i32.add", get(x0), i32(kw)), i32(inW))),
      ...(fourInside ? [ifElse(fourInside, four, one)] : one),
      sx("br_if", "$ox_loop", sx("i32.lt_u", get(ox), i32(g.outW))),
    ),
  ]);
}
