/**
 * Run-time quantization of int8 GEMM activations to 7-bit codes, with the
 * arithmetic of ir/quantize.ts's quantizeActivations (f32x4.nearest rounds
 * half to even, as roundHalfEven does), so results match it bit for bit:
 *
 * - rows: one f32 row (k padded to a multiple of 4 with zeros, which the
 *   range always holds) becomes k bytes of codes and {scale, zero};
 * - pixels: 8 pixels of an NCHW image, each quantized over its channels
 *   (a 1x1 conv's channels, or an im2col panel's rows), become one V panel of the int8
 *   microkernel: zero[8], scale[8], then codes as [k/4][8 pixels][4 channels].
 */
import { f32, f32x4, forLoop, FuncBuilder, get, i32, set, type Sx, sx } from "../wat.ts";
import { INT8_NR, PANEL_HEADER } from "./int8_microkernel.ts";

/** The name of the shared row quantizer. */
export const QUANTIZE_ROW = "q8_row";

const LEVELS = 127;

/** f32x4 codes -> clamp(nearest(x * inv) + zero, 0, 127) as i32x4. */
function codes(x: Sx, inv: Sx, zero: Sx): Sx {
  const rounded = sx("i32x4.trunc_sat_f32x4_s", sx("f32x4.nearest", sx("f32x4.mul", x, inv)));
  const shifted = sx("i32x4.add", rounded, zero);
  return sx(
    "i32x4.min_s",
    sx("i32x4.max_s", shifted, sx("v128.const", "i32x4", "0", "0", "0", "0")),
    sx("v128.const", "i32x4", "127", "127", "127", "127"),
  );
}

/** Four i32x4 of codes 0..127 -> 16 bytes [q0 lanes, q1 lanes, q2 lanes, q3 lanes]. */
function narrow(q0: Sx, q1: Sx, q2: Sx, q3: Sx): Sx {
  return sx(
    "i8x16.narrow_i16x8_u",
    sx("i16x8.narrow_i32x4_s", q0, q1),
    sx("i16x8.narrow_i32x4_s", q2, q3),
  );
}

/**
 * `(src, quads, dst, params)`: quantizes the f32 row src[0, 4 * quads) into
 * dst (4 * quads bytes) and writes {f32 scale, i32 zero} at params.
 */
export function quantizeRowFunction(): FuncBuilder {
  const fb = new FuncBuilder(QUANTIZE_ROW);
  const src = fb.param("src", "i32"), quads = fb.param("quads", "i32");
  const dst = fb.param("dst", "i32"), params = fb.param("params", "i32");
  const p = fb.local("p", "i32"), q = fb.local("q", "i32");
  const x = fb.local("x", "v128"), lo = fb.local("lo", "v128"), hi = fb.local("hi", "v128");
  const low = fb.local("low", "f32"), high = fb.local("high", "f32");
  const scale = fb.local("scale", "f32"), inv = fb.local("inv", "f32");
  const zero = fb.local("zero", "i32");
  const lane = (v: string, n: number) => sx("f32x4.extract_lane", String(n), get(v));
  const reduce = (op: string, v: string) =>
    sx(op, sx(op, lane(v, 0), lane(v, 1)), sx(op, lane(v, 2), lane(v, 3)));
  fb.emit(
    set(lo, f32x4(0)),
    set(hi, f32x4(0)),
    ...forLoop(q, { start: 0, end: get(quads) }, [
      set(x, sx("v128.load", sx("i32.add", get(src), sx("i32.shl", get(q), i32(4))))),
      set(lo, sx("f32x4.min", get(lo), get(x))),
      set(hi, sx("f32x4.max", get(hi), get(x))),
    ]),
    set(low, reduce("f32.min", lo)),
    set(high, reduce("f32.max", hi)),
    set(scale, sx("f32.div", sx("f32.sub", get(high), get(low)), f32(LEVELS))),
    set(scale, sx("select", get(scale), f32(1), sx("f32.ne", get(scale), f32(0)))),
    set(inv, sx("f32.div", f32(1), get(scale))),
    set(
      zero,
      sx(
        "i32.trunc_sat_f32_s",
        sx("f32.nearest", sx("f32.mul", sx("f32.neg", get(low)), get(inv))),
      ),
    ),
    sx("f32.store", get(params), get(scale)),
    sx("i32.store", "offset=4", get(params), get(zero)),
    set(p, get(dst)),
    ...forLoop(q, { start: 0, end: get(quads) }, [
      set(x, sx("v128.load", sx("i32.add", get(src), sx("i32.shl", get(q), i32(4))))),
      set(x, codes(get(x), sx("f32x4.splat", get(inv)), sx("i32x4.splat", get(zero)))),
      sx("v128.store32_lane", "0", get(p), narrow(get(x), get(x), get(x), get(x))),
      set(p, sx("i32.add", get(p), i32(4))),
    ]),
  );
  return fb;
}

/** Where an image's 8-pixel tiles are read: plane stride (bytes) and channels per group. */
export interface PixelSource {
  /** Bytes between channel planes. */
  readonly planeBytes: number;
  /** Channels quantized together (the conv's channels per group). */
  readonly channels: number;
}

/**
 * `(src, dst)`: quantizes 8 pixels (src: channel 0's first pixel; channel c
 * at src + c * planeBytes) over their channels into one V panel at dst.
 * Lanes past the image's end quantize whatever lies there, independently of
 * the real lanes; the epilogue never stores them.
 */
export function quantizePixelsFunction(name: string, source: PixelSource): FuncBuilder {
  const { planeBytes, channels } = source;
  const fb = new FuncBuilder(name);
  const src = fb.param("src", "i32"), dst = fb.param("dst", "i32");
  const c = fb.local("c", "i32"), p = fb.local("p", "i32"), d = fb.local("d", "i32");
  const x = [fb.local("x0", "v128"), fb.local("x1", "v128")];
  const lo = [fb.local("lo0", "v128"), fb.local("lo1", "v128")];
  const hi = [fb.local("hi0", "v128"), fb.local("hi1", "v128")];
  const inv = [fb.local("inv0", "v128"), fb.local("inv1", "v128")];
  const zero = [fb.local("z0", "v128"), fb.local("z1", "v128")];
  const q = Array.from({ length: 8 }, (_, i) => fb.local(`q${i}`, "v128"));
  const load = (half: number, at: Sx) => sx("v128.load", half > 0 && "offset=16", at);
  const range: Sx[] = [];
  for (let h = 0; h < 2; h++) {
    range.push(
      set(x[h], load(h, get(p))),
      set(lo[h], sx("f32x4.min", get(lo[h]), get(x[h]))),
      set(hi[h], sx("f32x4.max", get(hi[h]), get(x[h]))),
    );
  }
  const params: Sx[] = [];
  for (let h = 0; h < 2; h++) {
    const scale = fb.local(`s${h}`, "v128");
    const raw = sx("f32x4.div", sx("f32x4.sub", get(hi[h]), get(lo[h])), f32x4(LEVELS));
    params.push(
      set(scale, raw),
      // An all-zero pixel gets scale 1, as quantizeActivations does.
      set(scale, sx("v128.bitselect", f32x4(1), get(scale), sx("f32x4.eq", get(scale), f32x4(0)))),
      set(inv[h], sx("f32x4.div", f32x4(1), get(scale))),
      set(
        zero[h],
        sx(
          "i32x4.trunc_sat_f32x4_s",
          sx("f32x4.nearest", sx("f32x4.mul", sx("f32x4.neg", get(lo[h])), get(inv[h]))),
        ),
      ),
      sx("v128.store", h > 0 && `offset=${16 * h}`, get(dst), get(zero[h])),
      sx("v128.store", `offset=${32 + 16 * h}`, get(dst), get(scale)),
    );
  }
  // Bytes c*4 + pixel -> pixel*4 + c: each pixel's 4 channels side by side.
  const transpose = "0 4 8 12 1 5 9 13 2 6 10 14 3 7 11 15";
  const quad = (present: number): Sx[] => {
    const out: Sx[] = [];
    for (let t = 0; t < 4; t++) {
      for (let h = 0; h < 2; h++) {
        const value = t < present
          ? codes(load(h, sx("i32.add", get(p), i32(t * planeBytes))), get(inv[h]), get(zero[h]))
          : sx("v128.const", "i32x4", "0", "0", "0", "0");
        out.push(set(q[4 * h + t], value));
      }
    }
    for (let h = 0; h < 2; h++) {
      const bytes = narrow(get(q[4 * h]), get(q[4 * h + 1]), get(q[4 * h + 2]), get(q[4 * h + 3]));
      out.push(
        sx(
          "v128.store",
          h > 0 && "offset=16",
          get(d),
          sx("i8x16.shuffle", transpose, bytes, bytes),
        ),
      );
    }
    return out;
  };
  const full = Math.floor(channels / 4), tail = channels % 4;
  fb.emit(
    ...lo.map((v) => set(v, f32x4(0))),
    ...hi.map((v) => set(v, f32x4(0))),
    set(p, get(src)),
    ...forLoop(c, { start: 0, end: channels }, [
      ...range,
      set(p, sx("i32.add", get(p), i32(planeBytes))),
    ]),
    ...params,
    set(p, get(src)),
    set(d, sx("i32.add", get(dst), i32(PANEL_HEADER))),
  );
  const step = [
    set(p, sx("i32.add", get(p), i32(4 * planeBytes))),
    set(d, sx("i32.add", get(d), i32(INT8_NR * 4))),
  ];
  if (full > 0) fb.emit(...forLoop(c, { start: 0, end: full }, [...quad(4), ...step]));
  if (tail > 0) fb.emit(...quad(tail));
  return fb;
}
