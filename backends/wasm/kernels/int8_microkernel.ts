/**
 * The int8 GEMM microkernel: an MR x 8 block of C = S V, with S rows of
 * bytes (splat side, 4 consecutive k per i32) and V a panel of 8 columns
 * stored [k/4][8][4] (vector side), accumulated exactly in i32, then
 * dequantized into the f32 tile the GEMM epilogue reads:
 *
 *   C[i][j] = f32(acc[i][j] - rowInt[i] * colInt[j]) * (rowScale[i] * colScale[j])
 *
 * One operand is the weight (signed int8, per output channel scale, the
 * other side's int is its row sum), the other the activations (7-bit codes
 * with a zero point and a scale per row; see ir/quantize.ts), so that the
 * product rowInt * colInt is the zero point's correction whichever side
 * holds which. Linear layers put activations on S and weight panels on V;
 * convs put weight rows on S and pixels on V.
 *
 * Relaxed SIMD: i32x4.relaxed_dot_i8x16_i7x16_add_s (16 multiply-adds per
 * instruction, vpdpbusd with AVX-VNNI), the activation as the 7-bit
 * operand. Plain SIMD: bytes widened to i16 and i32x4.dot_i16x8_s, which
 * leaves two partial sums per column in neighbouring lanes, added at the
 * end. Both are exact, so both modules give bit-identical results.
 *
 * Memory: S row i at pa + i * rowBytes; S's per-row {f32 scale, i32 int} at
 * pp + 8i; V's panel at pb: colInt i32[8], colScale f32[8], then the bytes.
 */
import { FuncBuilder, get, set, type Sx, sx, tee } from "../wat.ts";
import type { Variant } from "./microkernel.ts";

/** Bytes of a V panel's header (colInt i32[8], colScale f32[8]). */
export const PANEL_HEADER = 64;
/** Columns per V panel. */
export const INT8_NR = 8;

/** Rows of the int8 microkernel per module variant (registers: see the header's budget). */
export function int8Rows(variant: Variant): number {
  // Relaxed: 2*MR accumulators + 2 panel vectors + 1 splat (15 xmm registers on x64).
  // Plain: 4 accumulators per row (two partial sums per column) + 4 widened vectors.
  return variant.relaxed ? 6 : 2;
}

/** One microkernel's shape. */
export interface Int8KernelSpec {
  readonly rows: number;
  /** Bytes between S rows (the padded contraction length). */
  readonly rowBytes: number;
  /** Which side holds the 7-bit activation codes. */
  readonly activations: "s" | "v";
}

/** The function name of a spec in a variant. */
export function int8KernelName(variant: Variant, spec: Int8KernelSpec): string {
  const kind = variant.relaxed ? "r" : "p";
  return `mk8${kind}${spec.rows}_r${spec.rowBytes}_${spec.activations}`;
}

const splatOf = (pa: Sx, offset: number) =>
  sx("v128.load32_splat", offset > 0 && `offset=${offset}`, pa);

/**
 * Builds `(pa, pp, pb, quads, c)`: quads = k / 4 (k padded with zero weights),
 * C stored at c as [rows][8] f32.
 */
export function int8Microkernel(variant: Variant, spec: Int8KernelSpec): FuncBuilder {
  const { rows, rowBytes } = spec;
  const fb = new FuncBuilder(int8KernelName(variant, spec));
  const pa = fb.param("pa", "i32"), pp = fb.param("pp", "i32"), pb = fb.param("pb", "i32");
  const quads = fb.param("quads", "i32"), c = fb.param("c", "i32");
  const p = fb.local("p", "i32"), left = fb.local("left", "i32");
  const s = fb.local("s", "v128");
  const vectors = variant.relaxed ? 2 : 4;
  const acc = (i: number, j: number) => fb.local(`c${i}_${j}`, "v128");
  const v = Array.from({ length: vectors }, (_, j) => fb.local(`v${j}`, "v128"));
  const body: Sx[] = [];
  if (variant.relaxed) {
    body.push(set(v[0], sx("v128.load", get(p))), set(v[1], sx("v128.load", "offset=16", get(p))));
    for (let i = 0; i < rows; i++) {
      body.push(set(s, splatOf(get(pa), i * rowBytes)));
      for (let j = 0; j < 2; j++) {
        // The second operand must be the 7-bit one.
        const [first, second] = spec.activations === "s"
          ? [get(v[j]), get(s)]
          : [get(s), get(v[j])];
        body.push(
          set(acc(i, j), sx("i32x4.relaxed_dot_i8x16_i7x16_add_s", first, second, get(acc(i, j)))),
        );
      }
    }
  } else {
    const half = (offset: number, high: boolean) =>
      sx(
        high ? "i16x8.extend_high_i8x16_s" : "i16x8.extend_low_i8x16_s",
        sx("v128.load", offset > 0 && `offset=${offset}`, get(p)),
      );
    body.push(
      set(v[0], half(0, false)),
      set(v[1], half(0, true)),
      set(v[2], half(16, false)),
      set(v[3], half(16, true)),
    );
    for (let i = 0; i < rows; i++) {
      body.push(set(s, sx("i16x8.extend_low_i8x16_s", splatOf(get(pa), i * rowBytes))));
      for (let j = 0; j < 4; j++) {
        body.push(
          set(
            acc(i, j),
            sx("i32x4.add", get(acc(i, j)), sx("i32x4.dot_i16x8_s", get(v[j]), get(s))),
          ),
        );
      }
    }
  }
  fb.emit(
    set(p, sx("i32.add", get(pb), sx("i32.const", String(PANEL_HEADER)))),
    set(left, get(quads)),
    sx(
      "loop",
      "$k_loop",
      ...body,
      set(pa, sx("i32.add", get(pa), sx("i32.const", "4"))),
      set(p, sx("i32.add", get(p), sx("i32.const", "32"))),
      sx("br_if", "$k_loop", tee(left, sx("i32.sub", get(left), sx("i32.const", "1")))),
    ),
  );
  fb.emit(...dequantize(fb, variant, spec, { pp, pb, c, acc }));
  return fb;
}

/** Column sums of the plain kernel's partial lanes: [a0 a1 b0 b1] [c0 c1 d0 d1] -> [a b c d]. */
function pairSums(x: Sx, y: Sx): Sx {
  const evens = sx("i8x16.shuffle", "0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27", x, y);
  const odds = sx("i8x16.shuffle", "4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31", x, y);
  return sx("i32x4.add", evens, odds);
}

/** The epilogue of the microkernel: integer correction, conversion, scales, store. */
function dequantize(
  fb: FuncBuilder,
  variant: Variant,
  spec: Int8KernelSpec,
  l: { pp: string; pb: string; c: string; acc: (i: number, j: number) => string },
): Sx[] {
  const ints = [fb.local("ci0", "v128"), fb.local("ci1", "v128")];
  const scales = [fb.local("cs0", "v128"), fb.local("cs1", "v128")];
  const rowInt = fb.local("ri", "v128"), rowScale = fb.local("rs", "v128");
  const out: Sx[] = [];
  for (let j = 0; j < 2; j++) {
    out.push(set(ints[j], sx("v128.load", j > 0 && "offset=16", get(l.pb))));
    out.push(set(scales[j], sx("v128.load", `offset=${32 + 16 * j}`, get(l.pb))));
  }
  for (let i = 0; i < spec.rows; i++) {
    out.push(
      set(rowScale, sx("v128.load32_splat", i > 0 && `offset=${8 * i}`, get(l.pp))),
      set(rowInt, sx("v128.load32_splat", `offset=${8 * i + 4}`, get(l.pp))),
    );
    for (let j = 0; j < 2; j++) {
      const sums = variant.relaxed
        ? get(l.acc(i, j))
        : pairSums(get(l.acc(i, 2 * j)), get(l.acc(i, 2 * j + 1)));
      const corrected = sx("i32x4.sub", sums, sx("i32x4.mul", get(rowInt), get(ints[j])));
      const value = sx(
        "f32x4.mul",
        sx("f32x4.convert_i32x4_s", corrected),
        sx("f32x4.mul", get(rowScale), get(scales[j])),
      );
      const offset = (i * INT8_NR + 4 * j) * 4;
      out.push(sx("v128.store", offset > 0 && `offset=${offset}`, get(l.c), value));
    }
  }
  return out;
}
