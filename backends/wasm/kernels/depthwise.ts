/**
 * Depthwise conv2d (one input and one output channel per group), NCHW, as
 * its own kernel instead of a GEMM with one row per group: each channel's
 * plane is copied into a zero-bordered scratch plane (so no tap is ever
 * bounds-checked), its kh*kw taps are splat into registers once, and each
 * output row is computed 8 pixels at a time in two f32x4 accumulators with
 * every tap unrolled. A stride-1 tap is two unaligned loads; a stride-2 row
 * loads 4-lane runs of the input and deinterleaves them into even and odd
 * lanes (shuffles), so every tap still costs two multiply-adds per 8
 * pixels. Each output row's accumulators then go through the epilogue
 * (bias, activation, residual) in one call.
 */
import type { GemmKernel } from "../../plan/mod.ts";
import { addr, f32x4, forLoop, FuncBuilder, get, i32, mul, set, type Sx, sx } from "../wat.ts";
import { accessOf } from "./access.ts";
import type { GenContext } from "./context.ts";
import { splitExpr } from "./epilogue.ts";
import { rowEpilogue } from "./gemm_epilogue.ts";
import type { ImageWindow } from "./image.ts";
import { madd, NR, type Variant } from "./microkernel.ts";

/** Largest kernel side rendered with unrolled taps (larger kernels stay GEMMs). */
const MAX_SIDE = 7;
/** Taps kept in registers; beyond this each tap's weight is a splat load. */
const HOISTED_TAPS = 9;
/** Floats past the plane that the last tile of the last row may read (its lanes are discarded). */
const SLACK = 64;

/** Whether `kernel` is a depthwise conv this kernel renders. */
export function depthwiseFits(image: ImageWindow, kernel: GemmKernel): boolean {
  const { kernel: [kh, kw], stride, dilation } = image.window;
  return image.channels === image.groups && kernel.n === 1 && kernel.w.kind === "constant" &&
    dilation[0] === 1 && dilation[1] === 1 && (stride[1] === 1 || stride[1] === 2) &&
    kh <= MAX_SIDE && kw <= MAX_SIDE;
}

/** The zero-bordered plane one channel is copied into. */
interface Plane {
  readonly address: number;
  readonly rowStride: number;
  readonly bytes: number;
}

function planeOf(image: ImageWindow): Plane {
  const [pt, pl, pb, pr] = image.window.pads;
  const rowStride = image.width + pl + pr;
  const bytes = ((image.height + pt + pb) * rowStride + SLACK) * 4;
  return { address: -1, rowStride, bytes };
}

/** Copies channel c of image b into the plane's interior. */
function copyPlane(fb: FuncBuilder, image: ImageWindow, plane: Plane, b: Sx, c: Sx): Sx[] {
  const [sb, sc, sh, sw] = image.strides;
  const [pt, pl] = image.window.pads;
  const y = fb.local("y", "i32"), x = fb.local("x", "i32");
  const src = fb.local("src", "i32"), dst = fb.local("dst", "i32");
  const row = sw === 1
    ? [sx("memory.copy", get(dst), get(src), i32(image.width * 4))]
    : forLoop(x, { start: 0, end: image.width }, [
      sx(
        "f32.store",
        addr(get(dst), mul(get(x), 4)),
        sx("f32.load", addr(get(src), mul(get(x), sw * 4))),
      ),
    ]);
  return [
    set(src, addr(addr(i32(image.base), mul(b, sb * 4)), mul(c, sc * 4))),
    set(dst, i32(plane.address + (pt * plane.rowStride + pl) * 4)),
    ...forLoop(y, { start: 0, end: image.height }, [
      ...row,
      set(src, addr(get(src), sh * 4)),
      set(dst, addr(get(dst), plane.rowStride * 4)),
    ]),
  ];
}

/** `v128.load offset=bytes (p)`. */
const load = (p: Sx, bytes: number): Sx => sx("v128.load", bytes > 0 && `offset=${bytes}`, p);

/** Lanes 0..3 of the 8-lane concatenation a:b starting at `first`, as an i8x16.shuffle. */
function lanes(a: Sx, b: Sx, picks: readonly number[]): Sx {
  const bytes = picks.flatMap((lane) => [0, 1, 2, 3].map((byte) => String(lane * 4 + byte)));
  return sx("i8x16.shuffle", ...bytes, a, b);
}

/**
 * The taps of kernel row ky for one 8-pixel tile at `p` (the row's input
 * start), as [input vector of lanes 0-3, of lanes 4-7] per kx.
 */
function rowInputs(
  fb: FuncBuilder,
  stride: number,
  kw: number,
  p: Sx,
  rowBytes: number,
): { setup: Sx[]; inputs: (kx: number, half: number) => Sx } {
  if (stride === 1) {
    return { setup: [], inputs: (kx, half) => load(p, rowBytes + (kx + 4 * half) * 4) };
  }
  // Lane j of half h reads input 8h + 2j + kx: the evens (kx even) or odds of
  // 4-lane runs L_q = input[4q..4q+3], shifted by floor(kx / 2) lanes.
  const shiftMax = Math.floor((kw - 1) / 2);
  const runs = 2 * (2 + Math.ceil(shiftMax / 4));
  const l = Array.from({ length: runs }, (_, q) => fb.local(`l${q}`, "v128"));
  const setup: Sx[] = l.map((name, q) => set(name, load(p, rowBytes + q * 16)));
  const parity = (odd: number, q: number) => {
    const name = fb.local(`${odd ? "o" : "e"}${q}`, "v128");
    setup.push(
      set(name, lanes(get(l[2 * q]), get(l[2 * q + 1]), [0, 2, 4, 6].map((i) => i + odd))),
    );
    return name;
  };
  const evens = Array.from({ length: runs / 2 }, (_, q) => parity(0, q));
  const odds = kw > 1 ? Array.from({ length: runs / 2 }, (_, q) => parity(1, q)) : [];
  return {
    setup,
    inputs: (kx, half) => {
      const seq = kx % 2 ? odds : evens, shift = Math.floor(kx / 2);
      const q = half + Math.floor(shift / 4), m = shift % 4;
      if (m === 0) return get(seq[q]);
      return lanes(get(seq[q]), get(seq[q + 1]), [m, m + 1, m + 2, m + 3]);
    },
  };
}

/** The accumulators of one 8-pixel tile: every tap of every kernel row. */
function tileSum(
  fb: FuncBuilder,
  image: ImageWindow,
  variant: Variant,
  p: Sx,
  rowStride: number,
  weight: (tap: number) => Sx,
  dst: Sx,
): Sx[] {
  const { kernel: [kh, kw], stride } = image.window;
  const acc = [fb.local("acc0", "v128"), fb.local("acc1", "v128")];
  const out: Sx[] = [set(acc[0], f32x4(0)), set(acc[1], f32x4(0))];
  for (let ky = 0; ky < kh; ky++) {
    const { setup, inputs } = rowInputs(fb, stride[1], kw, p, ky * rowStride * 4);
    out.push(...setup);
    for (let kx = 0; kx < kw; kx++) {
      for (let half = 0; half < 2; half++) {
        const tap = weight(ky * kw + kx);
        out.push(set(acc[half], madd(variant, tap, inputs(kx, half), get(acc[half]))));
      }
    }
  }
  out.push(
    sx("v128.store", dst, get(acc[0])),
    sx("v128.store", "offset=16", dst, get(acc[1])),
  );
  return out;
}

/** Emits the depthwise kernel of `kernel` (depthwiseFits holds); returns the function to call. */
export function emitDepthwise(kernel: GemmKernel, image: ImageWindow, ctx: GenContext): string {
  const { res, variant, mod, index } = ctx;
  if (kernel.w.kind !== "constant") throw new Error(`internal: ${kernel.label} weight`);
  const name = `k${index}_dwconv`;
  const { kernel: [kh, kw], stride } = image.window;
  const taps = kh * kw;
  const weights = res.packed({
    value: kernel.w.value,
    groups: image.groups,
    rows: 1,
    k: taps,
    panel: 1,
  });
  const layout = planeOf(image);
  const plane = {
    ...layout,
    address: res.scratchFor(index, layout.bytes + Math.ceil(image.outWidth / NR) * NR * 4),
  };
  const epilogue = `${name}_epi`;
  const partialLanes = image.outWidth % NR;
  const oxTiles = Math.ceil(image.outWidth / NR);
  mod.add(rowEpilogue(epilogue, {
    epilogue: splitExpr(kernel.epilogue, kernel.space, res),
    out: accessOf(kernel.out, kernel.space, res),
    tiles: oxTiles,
    partialLanes,
  }, res));
  // The row's accumulators follow the plane in scratch.
  const rowBuffer = plane.address + plane.bytes;

  const fb = new FuncBuilder(name);
  const b = fb.local("b", "i32"), c = fb.local("c", "i32");
  const oy = fb.local("oy", "i32"), ox = fb.local("ox", "i32");
  const w = fb.local("w", "i32"), row = fb.local("row", "i32"), p = fb.local("p", "i32");
  const hoisted = taps <= HOISTED_TAPS;
  const tapLocals = hoisted
    ? Array.from({ length: taps }, (_, t) => fb.local(`w${t}`, "v128"))
    : [];
  const splat = (t: number) => sx("v128.load32_splat", t > 0 && `offset=${t * 4}`, get(w));
  const weight = (t: number) => hoisted ? get(tapLocals[t]) : splat(t);
  const tile = [
    set(p, addr(get(row), mul(get(ox), NR * stride[1] * 4))),
    ...tileSum(
      fb,
      image,
      variant,
      get(p),
      plane.rowStride,
      weight,
      addr(i32(rowBuffer), mul(get(ox), NR * 4)),
    ),
  ];
  const channel = [
    ...copyPlane(fb, image, plane, get(b), get(c)),
    set(w, addr(i32(weights), mul(get(c), taps * 4))),
    ...tapLocals.map((local, t) => set(local, splat(t))),
    ...forLoop(oy, { start: 0, end: image.outHeight }, [
      set(row, addr(i32(plane.address), mul(get(oy), stride[0] * plane.rowStride * 4))),
      ...forLoop(ox, { start: 0, end: oxTiles }, tile),
      sx(
        "call",
        `$${epilogue}`,
        get(b),
        get(c),
        mul(get(oy), image.outWidth),
        i32(rowBuffer),
      ),
    ]),
  ];
  fb.emit(
    sx("memory.fill", i32(plane.address), i32(0), i32(plane.bytes)),
    forLoop(b, { start: 0, end: image.batch }, [
      ...forLoop(c, { start: 0, end: image.channels }, channel),
    ]),
  );
  mod.add(fb);
  return name;
}
