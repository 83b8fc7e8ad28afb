/**
 * Run-time packing of GEMM operands that cannot be read in place:
 * - gather: rows of a matrix view (tables allowed: a partition permute, a
 *   computed weight) into a [k][panel] tile, zero rows past the end;
 * - im2col: eight output pixels of a strided conv into a [k][8] tile, zero
 *   outside the image;
 * - pad: one image copied into a zero-bordered scratch, so stride-1 convs
 *   read shifted rows without bounds checks.
 * Weights known at compile time are packed by the runtime at load instead.
 */
import type { Resources } from "../resources.ts";
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
import { type Access, partOffset } from "./access.ts";

/** A matrix view split into [row, k] parts, and how groups offset it. */
export interface GatherSpec {
  readonly access: Access;
  readonly rowsPerGroup: number;
  /** True when group g starts at row g * rowsPerGroup (else every group reads all rows). */
  readonly rowGrouped: boolean;
  /** True when group g starts at k = g * k. */
  readonly kGrouped: boolean;
  readonly k: number;
  readonly panel: number;
}

/** `(tile, g, dst)`: gathers `panel` rows x k into dst[k][panel]. */
export function gatherPack(name: string, spec: GatherSpec, res: Resources): FuncBuilder {
  const fb = new FuncBuilder(name);
  const tile = fb.param("tile", "i32"), g = fb.param("g", "i32"), dst = fb.param("dst", "i32");
  const i = fb.local("i", "i32"), row = fb.local("row", "i32"), src = fb.local("src", "i32");
  const d = fb.local("d", "i32"), k = fb.local("k", "i32");
  const [rowPart, kPart] = spec.access.parts;
  const kBase = spec.kGrouped ? mul(get(g), spec.k) : i32(0);
  const affineK = kPart.kind === "affine";
  const element = affineK
    ? get(src)
    : addr(get(src), partOffset(kPart, sx("i32.add", kBase, get(k)), res));
  const copy = forLoop(k, { start: 0, end: spec.k }, [
    sx("f32.store", get(d), sx("f32.load", element)),
    set(d, addr(get(d), spec.panel * 4)),
    ...(affineK ? [set(src, addr(get(src), kPart.stride * 4))] : []),
  ]);
  const zero = forLoop(k, { start: 0, end: spec.k }, [
    sx("f32.store", get(d), f32(0)),
    set(d, addr(get(d), spec.panel * 4)),
  ]);
  const globalRow = spec.rowGrouped
    ? sx("i32.add", mul(get(g), spec.rowsPerGroup), get(row))
    : get(row);
  const rowAddress = addr(i32(spec.access.base), partOffset(rowPart, globalRow, res));
  const start = affineK ? addr(rowAddress, mul(kBase, kPart.stride * 4)) : rowAddress;
  fb.emit(forLoop(i, { start: 0, end: spec.panel }, [
    set(row, sx("i32.add", mul(get(tile), spec.panel), get(i))),
    set(d, sx("i32.add", get(dst), mul(get(i), 4))),
    ifElse(sx("i32.lt_u", get(row), i32(spec.rowsPerGroup)), [set(src, start), ...copy], zero),
  ]));
  return fb;
}

/** Conv geometry for im2col and padding, strides in elements of the input view. */
export interface ConvGeometry {
  readonly x: Access;
  /** Input strides of batch, channel, row, column. */
  readonly strides: readonly [number, number, number, number];
  readonly channels: number;
  readonly inH: number;
  readonly inW: number;
  readonly outW: number;
  readonly pixels: number;
  readonly kernel: readonly [number, number];
  readonly stride: readonly [number, number];
  readonly pads: readonly [number, number, number, number];
  readonly dilation: readonly [number, number];
}

/** `(tile, b, g, dst)`: im2col of output pixels tile*8.. into dst[(c,ky,kx)][8]. */
export function im2colPack(name: string, geo: ConvGeometry): FuncBuilder {
  const fb = new FuncBuilder(name);
  const tile = fb.param("tile", "i32"), b = fb.param("b", "i32"), g = fb.param("g", "i32");
  const dst = fb.param("dst", "i32");
  const j = fb.local("j", "i32"), p = fb.local("p", "i32"), d = fb.local("d", "i32");
  const base = fb.local("base", "i32"), iy0 = fb.local("iy0", "i32"), ix0 = fb.local("ix0", "i32");
  const c = fb.local("c", "i32"), ky = fb.local("ky", "i32"), kx = fb.local("kx", "i32");
  const iy = fb.local("iy", "i32"), ix = fb.local("ix", "i32"), k = fb.local("k", "i32");
  const [sb, sc, sh, sw] = geo.strides;
  const [kh, kw] = geo.kernel;
  const taps = geo.channels * kh * kw;
  const next = set(d, addr(get(d), 32));
  const value = sx(
    "if",
    sx("result", "f32"),
    sx("i32.and", sx("i32.lt_u", get(iy), i32(geo.inH)), sx("i32.lt_u", get(ix), i32(geo.inW))),
    sx(
      "then",
      sx(
        "f32.load",
        addr(
          addr(addr(get(base), mul(get(c), sc * 4)), mul(get(iy), sh * 4)),
          mul(get(ix), sw * 4),
        ),
      ),
    ),
    sx("else", f32(0)),
  );
  const gather = forLoop(c, { start: 0, end: geo.channels }, [
    ...forLoop(ky, { start: 0, end: kh }, [
      set(iy, sx("i32.add", get(iy0), mul(get(ky), geo.dilation[0]))),
      ...forLoop(kx, { start: 0, end: kw }, [
        set(ix, sx("i32.add", get(ix0), mul(get(kx), geo.dilation[1]))),
        sx("f32.store", get(d), value),
        next,
      ]),
    ]),
  ]);
  const zero = forLoop(k, { start: 0, end: taps }, [sx("f32.store", get(d), f32(0)), next]);
  // A window inside the image (nearly all of them) copies kh*kw cells per channel at
  // constant offsets from its corner: no bounds checks, no tap loops.
  const [dh, dw] = geo.dilation;
  const spanY = geo.inH - (kh - 1) * dh, spanX = geo.inW - (kw - 1) * dw;
  const src = fb.local("src", "i32");
  const copies: Sx[] = [];
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      const from = (ky * dh * sh + kx * dw * sw) * 4, to = (ky * kw + kx) * 32;
      copies.push(sx(
        "f32.store",
        to > 0 && `offset=${to}`,
        get(d),
        sx("f32.load", from > 0 && `offset=${from}`, get(src)),
      ));
    }
  }
  const fast = [
    set(src, addr(addr(get(base), mul(get(iy0), sh * 4)), mul(get(ix0), sw * 4))),
    ...forLoop(c, { start: 0, end: geo.channels }, [
      ...copies,
      set(src, addr(get(src), sc * 4)),
      set(d, addr(get(d), kh * kw * 32)),
    ]),
  ];
  const inside = spanY > 0 && spanX > 0
    ? sx(
      "i32.and",
      sx("i32.lt_u", get(iy0), i32(spanY)),
      sx("i32.lt_u", get(ix0), i32(spanX)),
    )
    : undefined;
  fb.emit(
    set(base, addr(addr(i32(geo.x.base), mul(get(b), sb * 4)), mul(get(g), geo.channels * sc * 4))),
    forLoop(j, { start: 0, end: 8 }, [
      set(p, sx("i32.add", mul(get(tile), 8), get(j))),
      set(d, sx("i32.add", get(dst), mul(get(j), 4))),
      ifElse(
        sx("i32.lt_u", get(p), i32(geo.pixels)),
        [
          set(
            iy0,
            sx(
              "i32.sub",
              mul(sx("i32.div_u", get(p), i32(geo.outW)), geo.stride[0]),
              i32(geo.pads[0]),
            ),
          ),
          set(
            ix0,
            sx(
              "i32.sub",
              mul(sx("i32.rem_u", get(p), i32(geo.outW)), geo.stride[1]),
              i32(geo.pads[1]),
            ),
          ),
          ...(inside ? [ifElse(inside, fast, gather)] : gather),
        ],
        zero,
      ),
    ]),
  );
  return fb;
}

/** The zero-bordered copy a stride-1 conv reads: all channels of one image. */
export interface PadSpec {
  readonly geo: ConvGeometry;
  /** All input channels (every group). */
  readonly channels: number;
  readonly dst: number;
  readonly rowStride: number;
  readonly planeStride: number;
}

/** `(b)`: copies image b into the padded scratch (borders zeroed). */
export function padCopy(name: string, spec: PadSpec): FuncBuilder {
  const { geo } = spec;
  const fb = new FuncBuilder(name);
  const b = fb.param("b", "i32");
  const c = fb.local("c", "i32"), y = fb.local("y", "i32"), x = fb.local("x", "i32");
  const src = fb.local("src", "i32"), dst = fb.local("dst", "i32");
  const [sb, sc, sh, sw] = geo.strides;
  const [pt, pl] = geo.pads;
  const bytes = spec.channels * spec.planeStride * 4;
  const row = sw === 1
    ? [sx("memory.copy", get(dst), get(src), i32(geo.inW * 4))]
    : forLoop(x, { start: 0, end: geo.inW }, [
      sx(
        "f32.store",
        addr(get(dst), mul(get(x), 4)),
        sx("f32.load", addr(get(src), mul(get(x), sw * 4))),
      ),
    ]);
  fb.emit(
    sx("memory.fill", i32(spec.dst), i32(0), i32(bytes)),
    forLoop(c, { start: 0, end: spec.channels }, [
      ...forLoop(y, { start: 0, end: geo.inH }, [
        set(
          src,
          addr(
            addr(addr(i32(geo.x.base), mul(get(b), sb * 4)), mul(get(c), sc * 4)),
            mul(get(y), sh * 4),
          ),
        ),
        set(
          dst,
          addr(
            addr(i32(spec.dst + (pt * spec.rowStride + pl) * 4), mul(get(c), spec.planeStride * 4)),
            mul(get(y), spec.rowStride * 4),
          ),
        ),
        ...row,
      ]),
    ]),
  );
  return fb;
}
