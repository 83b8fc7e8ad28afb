/**
 * Pixels of a stride-1 "same"-width conv as one flat run of output pixels
 * (q = oy * W + ox), so that tiles of 8 cross row ends and no lane is wasted
 * when W is not a multiple of 8 (a 14-wide row is 8 + 6 lanes in rows mode:
 * 12.5% of the multiply-adds thrown away).
 *
 * Identity: with rows W floats apart and no column padding, tap (ky, kx)
 * of pixel q reads flat input q + ky*dh*W + d, d = kx*dw - pl. That is the
 * right element, except where ox + d leaves [0, W) and the read wraps into
 * the neighbouring row: there it must read 0. So each kx gets its own copy
 * of the image in which the |d| columns that wrapping reads are zeroed (the
 * last |d| columns when d < 0, the first d when d > 0; valid reads never
 * touch them), with zero rows for the vertical padding and one guard row
 * above and below. Preconditions (wrappedFits): stride 1, output width =
 * input width, |d| < W for every tap, a constant weight, copies of at
 * most MAX_COPY_BYTES.
 */
import type { GemmKernel } from "../../plan/mod.ts";
import { addr, f32, forLoop, FuncBuilder, get, i32, mul, set, type Sx, sx } from "../wat.ts";
import type { PixelSide } from "./conv.ts";
import type { GenContext } from "./context.ts";
import type { ImageWindow } from "./image.ts";
import { NR } from "./microkernel.ts";

/** Floats the last tile may read past the copies (lanes it discards). */
const SLACK = 64;
/** Widest kernel given one image copy per column tap. */
const MAX_KW = 7;
/** Most bytes the kw copies may take (beyond it, rows mode's single padded copy is used). */
const MAX_COPY_BYTES = 8 << 20;

/** Whether `kernel` reads its pixels as a flat run (see the header). */
export function wrappedFits(image: ImageWindow, kernel: GemmKernel): boolean {
  const { kernel: [kh, kw], stride, pads, dilation } = image.window;
  return stride[0] === 1 && stride[1] === 1 && image.outWidth === image.width &&
    image.outWidth % NR !== 0 && kh * kw > 1 && kw <= MAX_KW &&
    pads[1] < image.width && pads[3] < image.width && (kw - 1) * dilation[1] < image.width &&
    kernel.w.kind === "constant" &&
    image.channels * layoutOf(image).planeStride * 4 <= MAX_COPY_BYTES;
}

/** The copies' layout: per channel, kw copies of (guard, pt, H, pb, guard) rows of W floats. */
function layoutOf(image: ImageWindow) {
  const { pads: [pt, , pb], kernel: [, kw] } = image.window;
  const copyStride = (pt + image.height + pb + 2) * image.width;
  return { copyStride, planeStride: kw * copyStride };
}

/** `(b)`: image b into the kw column-masked copies at `dst`. */
function wrappedCopy(name: string, image: ImageWindow, dst: number, bytes: number): FuncBuilder {
  const fb = new FuncBuilder(name);
  const b = fb.param("b", "i32");
  const c = fb.local("c", "i32"), y = fb.local("y", "i32"), x = fb.local("x", "i32");
  const src = fb.local("src", "i32"), to = fb.local("to", "i32"), row = fb.local("row", "i32");
  const base = fb.local("base", "i32");
  const { pads: [pt, pl], kernel: [, kw], dilation: [, dw] } = image.window;
  const { width, height } = image;
  const [sb, sc, sh, sw] = image.strides;
  const { copyStride, planeStride } = layoutOf(image);
  const contiguous = sw === 1 && sh === width;
  const copyRows: Sx[] = contiguous
    ? [sx("memory.copy", get(to), get(src), i32(height * width * 4))]
    : forLoop(y, { start: 0, end: height }, [
      set(row, addr(get(src), mul(get(y), sh * 4))),
      ...forLoop(x, { start: 0, end: width }, [
        sx(
          "f32.store",
          addr(addr(get(to), mul(get(y), width * 4)), mul(get(x), 4)),
          sx("f32.load", addr(get(row), mul(get(x), sw * 4))),
        ),
      ]),
    ]);
  const perCopy: Sx[] = [];
  for (let kx = 0; kx < kw; kx++) {
    const d = kx * dw - pl;
    const first = d < 0 ? width + d : 0, count = Math.abs(d);
    const zeros = Array.from(
      { length: count },
      (_, i) => sx("f32.store", `offset=${(first + i) * 4}`, get(row), f32(0)),
    );
    perCopy.push(
      set(to, addr(get(base), kx * copyStride * 4)),
      ...copyRows,
      ...(count === 0 ? [] : [
        set(row, get(to)),
        ...forLoop(y, { start: 0, end: height }, [
          ...zeros,
          set(row, addr(get(row), width * 4)),
        ]),
      ]),
    );
  }
  fb.emit(
    sx("memory.fill", i32(dst), i32(0), i32(bytes)),
    forLoop(c, { start: 0, end: image.channels }, [
      set(src, addr(addr(i32(image.base), mul(get(b), sb * 4)), mul(get(c), sc * 4))),
      set(base, addr(i32(dst + (1 + pt) * width * 4), mul(get(c), planeStride * 4))),
      ...perCopy,
    ]),
  );
  return fb;
}

/** The flat pixel side of a conv that wrappedFits. */
export function wrappedPixels(image: ImageWindow, k: number, ctx: GenContext, name: string) {
  const { kernel: [kh, kw], dilation: [dh, dw], pads: [, pl] } = image.window;
  const { copyStride, planeStride } = layoutOf(image);
  const width = image.width, cg = image.channels / image.groups;
  const pixels = image.outHeight * image.outWidth, tiles = Math.ceil(pixels / NR);
  const shift = (t: number) => {
    const ky = Math.floor(t / kw), kx = t % kw;
    return (kx * copyStride + (1 + ky * dh) * width + kx * dw - pl) * 4;
  };
  const copyBytes = (image.channels * planeStride + SLACK) * 4;
  let sourceBase = -1;
  const side: PixelSide = {
    v: {
      tiles,
      tileBytes: k * NR * 4,
      step: planeStride * 4,
      shifts: Array.from({ length: kh * kw }, (_, t) => shift(t)),
      pointer: (tile, _b, g) =>
        addr(addr(i32(sourceBase), mul(g, cg * planeStride * 4)), mul(tile, NR * 4)),
    },
    n0: (nt) => mul(nt, NR),
    partial: pixels % NR ? (nt) => sx("i32.eq", nt, i32(tiles - 1)) : undefined,
    partialLanes: pixels % NR,
    prologue: (b) => [sx("call", `$${name}_wrap`, b)],
    pad: {
      bytes: copyBytes,
      emit: (scratch) => {
        sourceBase = scratch;
        ctx.mod.add(wrappedCopy(`${name}_wrap`, image, scratch, copyBytes));
      },
    },
  };
  return side;
}
