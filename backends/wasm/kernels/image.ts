/**
 * Run-time packing of a convolution's input image:
 * - im2col: eight output pixels of a strided conv into a [k][8] tile, zero
 *   outside the image;
 * - pad: one image copied into a zero-bordered scratch, so stride-1 convs
 *   read shifted rows without bounds checks.
 * Both address the image through ImageWindow: the IR's window geometry plus
 * where the input view starts and its element strides.
 */
import type { WindowGeometry } from "../../../ir/mod.ts";
import {
  addr,
  f32,
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

/** A conv's window over its input view, as the packers address it. */
export interface ImageWindow extends WindowGeometry {
  /** Byte address of the input view's element 0. */
  readonly base: number;
  /** Element strides of the input's batch, channel, row and column axes. */
  readonly strides: readonly [number, number, number, number];
}

/** The locals im2col's loops share. */
interface Im2colLocals {
  readonly d: string;
  readonly base: string;
  readonly iy0: string;
  readonly ix0: string;
}

/** Every (c, ky, kx) cell of one pixel's window, bounds-checked (the border pixels). */
function gatherWindow(fb: FuncBuilder, image: ImageWindow, at: Im2colLocals): Sx[] {
  const c = fb.local("c", "i32"), ky = fb.local("ky", "i32"), kx = fb.local("kx", "i32");
  const iy = fb.local("iy", "i32"), ix = fb.local("ix", "i32");
  const [, sc, sh, sw] = image.strides;
  const [kh, kw] = image.window.kernel;
  const [dh, dw] = image.window.dilation;
  const value = sx(
    "if",
    sx("result", "f32"),
    sx(
      "i32.and",
      sx("i32.lt_u", get(iy), i32(image.height)),
      sx("i32.lt_u", get(ix), i32(image.width)),
    ),
    sx(
      "then",
      sx(
        "f32.load",
        addr(
          addr(addr(get(at.base), mul(get(c), sc * 4)), mul(get(iy), sh * 4)),
          mul(get(ix), sw * 4),
        ),
      ),
    ),
    sx("else", f32(0)),
  );
  return forLoop(c, { start: 0, end: image.channels / image.groups }, [
    ...forLoop(ky, { start: 0, end: kh }, [
      set(iy, sx("i32.add", get(at.iy0), mul(get(ky), dh))),
      ...forLoop(kx, { start: 0, end: kw }, [
        set(ix, sx("i32.add", get(at.ix0), mul(get(kx), dw))),
        sx("f32.store", get(at.d), value),
        set(at.d, addr(get(at.d), 32)),
      ]),
    ]),
  ]);
}

/**
 * A window inside the image (nearly all of them) copies kh*kw cells per
 * channel at constant offsets from its corner: no bounds checks, no tap loops.
 */
function copyWindow(fb: FuncBuilder, image: ImageWindow, at: Im2colLocals): Sx[] {
  const c = fb.local("c", "i32"), src = fb.local("src", "i32");
  const [, sc, sh, sw] = image.strides;
  const [kh, kw] = image.window.kernel;
  const [dh, dw] = image.window.dilation;
  const copies: Sx[] = [];
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      const from = (ky * dh * sh + kx * dw * sw) * 4, to = (ky * kw + kx) * 32;
      copies.push(sx(
        "f32.store",
        to > 0 && `offset=${to}`,
        get(at.d),
        sx("f32.load", from > 0 && `offset=${from}`, get(src)),
      ));
    }
  }
  return [
    set(src, addr(addr(get(at.base), mul(get(at.iy0), sh * 4)), mul(get(at.ix0), sw * 4))),
    ...forLoop(c, { start: 0, end: image.channels / image.groups }, [
      ...copies,
      set(src, addr(get(src), sc * 4)),
      set(at.d, addr(get(at.d), kh * kw * 32)),
    ]),
  ];
}

/** `(tile, b, g, dst)`: im2col of output pixels tile*8.. into dst[(c,ky,kx)][8]. */
export function im2colPack(name: string, image: ImageWindow): FuncBuilder {
  const fb = new FuncBuilder(name);
  const tile = fb.param("tile", "i32"), b = fb.param("b", "i32"), g = fb.param("g", "i32");
  const dst = fb.param("dst", "i32");
  const j = fb.local("j", "i32"), p = fb.local("p", "i32"), k = fb.local("k", "i32");
  const at: Im2colLocals = {
    d: fb.local("d", "i32"),
    base: fb.local("base", "i32"),
    iy0: fb.local("iy0", "i32"),
    ix0: fb.local("ix0", "i32"),
  };
  const [sb, sc] = image.strides;
  const { kernel: [kh, kw], dilation: [dh, dw], stride, pads } = image.window;
  const cg = image.channels / image.groups;
  const zero = forLoop(k, { start: 0, end: cg * kh * kw }, [
    sx("f32.store", get(at.d), f32(0)),
    set(at.d, addr(get(at.d), 32)),
  ]);
  const gather = gatherWindow(fb, image, at);
  const spanY = image.height - (kh - 1) * dh, spanX = image.width - (kw - 1) * dw;
  const inside = spanY > 0 && spanX > 0
    ? sx(
      "i32.and",
      sx("i32.lt_u", get(at.iy0), i32(spanY)),
      sx("i32.lt_u", get(at.ix0), i32(spanX)),
    )
    : undefined;
  const corner = (axis: Sx, step: number, pad: number) => sx("i32.sub", mul(axis, step), i32(pad));
  fb.emit(
    set(at.base, addr(addr(i32(image.base), mul(get(b), sb * 4)), mul(get(g), cg * sc * 4))),
    forLoop(j, { start: 0, end: 8 }, [
      set(p, sx("i32.add", mul(get(tile), 8), get(j))),
      set(at.d, sx("i32.add", get(dst), mul(get(j), 4))),
      ifElse(
        sx("i32.lt_u", get(p), i32(image.outHeight * image.outWidth)),
        [
          set(at.iy0, corner(sx("i32.div_u", get(p), i32(image.outWidth)), stride[0], pads[0])),
          set(at.ix0, corner(sx("i32.rem_u", get(p), i32(image.outWidth)), stride[1], pads[1])),
          ...(inside ? [ifElse(inside, copyWindow(fb, image, at), gather)] : gather),
        ],
        zero,
      ),
    ]),
  );
  return fb;
}

/**
 * The zero-bordered copy a rows-mode conv reads: all channels of one image,
 * each channel split into stride[0] x stride[1] phase planes (phase (py, px)
 * holds the padded image's rows py, py + sy, ... and columns px, px + sx, ...),
 * so that every tap of a strided conv reads 8 consecutive floats of one
 * phase plane for 8 consecutive output pixels. Stride 1 is one phase.
 */
export interface PadSpec {
  readonly image: ImageWindow;
  readonly dst: number;
  /** Floats between rows of a phase plane (a multiple of 4 when sx = 2). */
  readonly rowStride: number;
  /** Floats between phase planes. */
  readonly phaseStride: number;
  /** Floats between channels (all phases of one channel). */
  readonly planeStride: number;
  /** Bytes to zero at dst. */
  readonly bytes: number;
  /** sx = 2: a zero-bordered row buffer (2 * rowStride floats) rows are deinterleaved from. */
  readonly rowBuffer?: number;
}

/** One source row (at `src`) to `to`, in place or gathered through its column stride. */
function rowCopy(fb: FuncBuilder, image: ImageWindow, to: Sx, src: string): Sx[] {
  const sw = image.strides[3];
  if (sw === 1) return [sx("memory.copy", to, get(src), i32(image.width * 4))];
  const x = fb.local("x", "i32");
  return forLoop(x, { start: 0, end: image.width }, [
    sx("f32.store", addr(to, mul(get(x), 4)), sx("f32.load", addr(get(src), mul(get(x), sw * 4)))),
  ]);
}

/** The padded row in the row buffer, deinterleaved into the even and odd phase rows at dst. */
function deinterleave(fb: FuncBuilder, spec: PadSpec, dst: string): Sx[] {
  const j = fb.local("j", "i32"), from = fb.local("from", "i32"), to = fb.local("to", "i32");
  const v0 = fb.local("v0", "v128"), v1 = fb.local("v1", "v128");
  const pick = (odd: number) =>
    sx(
      "i8x16.shuffle",
      ...[0, 2, 4, 6].flatMap((lane) =>
        [0, 1, 2, 3].map((byte) => String((lane + odd) * 4 + byte))
      ),
      get(v0),
      get(v1),
    );
  return [
    set(from, i32(spec.rowBuffer!)),
    set(to, get(dst)),
    ...forLoop(j, { start: 0, end: spec.rowStride / 4 }, [
      set(v0, sx("v128.load", get(from))),
      set(v1, sx("v128.load", "offset=16", get(from))),
      sx("v128.store", get(to), pick(0)),
      sx("v128.store", `offset=${spec.phaseStride * 4}`, get(to), pick(1)),
      set(from, addr(get(from), 32)),
      set(to, addr(get(to), 16)),
    ]),
  ];
}

/** `(b)`: copies image b into the padded (and phase-split) scratch, borders zeroed. */
export function padCopy(name: string, spec: PadSpec): FuncBuilder {
  const { image } = spec;
  const fb = new FuncBuilder(name);
  const b = fb.param("b", "i32");
  const c = fb.local("c", "i32"), y = fb.local("y", "i32"), py = fb.local("py", "i32");
  const src = fb.local("src", "i32"), dst = fb.local("dst", "i32");
  const [sb, sc, sh] = image.strides;
  const [pt, pl] = image.window.pads;
  const [sy, columnPhases] = image.window.stride;
  const phased = spec.rowBuffer !== undefined;
  const phaseRow = sy === 1 ? get(py) : sx("i32.div_u", get(py), i32(sy));
  const phaseOfRow = sx("i32.rem_u", get(py), i32(sy));
  const columnStart = phased ? 0 : pl;
  fb.emit(
    sx("memory.fill", i32(spec.dst), i32(0), i32(spec.bytes)),
    phased ? sx("memory.fill", i32(spec.rowBuffer!), i32(0), i32(2 * spec.rowStride * 4)) : [],
    forLoop(c, { start: 0, end: image.channels }, [
      ...forLoop(y, { start: 0, end: image.height }, [
        set(py, addr(get(y), pt)),
        set(
          src,
          addr(
            addr(addr(i32(image.base), mul(get(b), sb * 4)), mul(get(c), sc * 4)),
            mul(get(y), sh * 4),
          ),
        ),
        set(
          dst,
          addr(
            addr(i32(spec.dst + columnStart * 4), mul(get(c), spec.planeStride * 4)),
            mul(phaseRow, spec.rowStride * 4),
          ),
        ),
        ...(sy === 1
          ? []
          : [set(dst, addr(get(dst), mul(phaseOfRow, columnPhases * spec.phaseStride * 4)))]),
        ...(phased
          ? [
            ...rowCopy(fb, image, i32(spec.rowBuffer! + pl * 4), src),
            ...deinterleave(fb, spec, dst),
          ]
          : rowCopy(fb, image, get(dst), src)),
      ]),
    ]),
  );
  return fb;
}
