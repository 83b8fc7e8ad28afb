/**
 * The GEMM microkernel: an MR x 8 block of C held in 2*MR f32x4 registers,
 * updated once per k with two vector loads of B, MR splat loads of A and
 * 2*MR multiply-adds, then written to a tile in memory for the epilogue.
 *
 * Register budget: V8 gives wasm 15 usable xmm registers on x64. Measured on
 * this machine with L1-resident panels: with relaxed-simd FMA, 6x8 (12
 * accumulators + 2 B + 1 A) runs at 64-65 GFLOP/s, 5x8 at 60, 4x8 at 55, and
 * 7x8 or 4x12 spill (30-36); plain SIMD needs a temporary per mul+add, so 5x8
 * (48-53) beats 6x8 (29-33) there. A's rows sit `rowBytes` apart, so one
 * kernel serves packed panels (rowBytes = 4) and rows read in place.
 */
import { FuncBuilder, get, set, type Sx, sx, tee } from "../wat.ts";

/** Code-generation choices that differ between the relaxed and plain modules. */
export interface Variant {
  readonly relaxed: boolean;
  /** Microkernel rows. */
  readonly mr: number;
}

/** Vector panel width of B and C. */
export const NR = 8;

/** The two variants every model.js carries; load() picks one. */
export const VARIANTS: { readonly relaxed: Variant; readonly plain: Variant } = {
  relaxed: { relaxed: true, mr: 6 },
  plain: { relaxed: false, mr: 5 },
};

/** `a * b + c` on f32x4, fused where the variant allows. */
export function madd(variant: Variant, a: Sx, b: Sx, c: Sx): Sx {
  return variant.relaxed
    ? sx("f32x4.relaxed_madd", a, b, c)
    : sx("f32x4.add", sx("f32x4.mul", a, b), c);
}

/** The shape of one microkernel; the steps are immediates of its loop. */
export interface MicrokernelSpec {
  readonly rows: number;
  /** Bytes between A's rows (4 for packed panels, the row stride when read in place). */
  readonly rowBytes: number;
  /** Bytes A and B advance per k. */
  readonly aStep: number;
  readonly bStep: number;
  /**
   * Byte offsets of B per tap (a conv's shifted rows); [0] for plain GEMM.
   * Every tap runs inside each k step: A holds a step's taps one after
   * another (aStep spans them all), so one loop covers every tap and a
   * step's taps read neighbouring rows of one input plane.
   */
  readonly shifts: readonly number[];
}

/** The function name of a microkernel spec. */
export function microkernelName(spec: MicrokernelSpec): string {
  const { rows, rowBytes, aStep, bStep, shifts } = spec;
  const tapKey = shifts.length === 1 && shifts[0] === 0 ? "" : `_t${shifts.join("_")}`;
  return `mk${rows}x${NR}_r${rowBytes}_a${aStep}_b${bStep}${tapKey}`;
}

/**
 * Builds the microkernel `(pa, pb, k, c)`: C[i][j] = sum over k and taps t
 * of A[pa + t*aStep/taps + i*rowBytes] * B[pb + shifts[t] + 4j], A and B
 * advancing by their steps per k; the tile C is stored at c as [rows][8].
 * (Unrolling k twice measured no faster when compute-bound and slower when
 * streaming weights; one k loop per tap, A packed tap-major, measured 1-6%
 * slower per conv layer than every tap inside each k step.)
 */
export function microkernel(variant: Variant, spec: MicrokernelSpec): FuncBuilder {
  const { rows, rowBytes, aStep, bStep, shifts } = spec;
  const fb = new FuncBuilder(microkernelName(spec));
  const pa = fb.param("pa", "i32"), pb = fb.param("pb", "i32"), k = fb.param("k", "i32");
  const c = fb.param("c", "i32");
  const acc = (i: number, j: number) => fb.local(`c${i}_${j}`, "v128");
  const b0 = fb.local("b0", "v128"), b1 = fb.local("b1", "v128"), a = fb.local("a", "v128");
  const p = fb.local("p", "i32"), left = fb.local("left", "i32");
  const at = (offset: number) => offset > 0 && `offset=${offset}`;
  const step = (shift: number, aOffset: number): Sx[] => {
    const out = [
      set(b0, sx("v128.load", at(shift), get(p))),
      set(b1, sx("v128.load", at(shift + 16), get(p))),
    ];
    for (let i = 0; i < rows; i++) {
      out.push(set(a, sx("v128.load32_splat", at(aOffset + i * rowBytes), get(pa))));
      out.push(set(acc(i, 0), madd(variant, get(a), get(b0), get(acc(i, 0)))));
      out.push(set(acc(i, 1), madd(variant, get(a), get(b1), get(acc(i, 1)))));
    }
    return out;
  };
  const tapBytes = aStep / shifts.length;
  const body = shifts.flatMap((shift, t) => step(shift, t * tapBytes));
  const loop = sx(
    "loop",
    "$k_loop",
    ...body,
    set(pa, sx("i32.add", get(pa), sx("i32.const", String(aStep)))),
    set(p, sx("i32.add", get(p), sx("i32.const", String(bStep)))),
    sx("br_if", "$k_loop", tee(left, sx("i32.sub", get(left), sx("i32.const", "1")))),
  );
  fb.emit(set(p, get(pb)), set(left, get(k)), loop);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < 2; j++) {
      const offset = (i * NR + j * 4) * 4;
      fb.emit(sx("v128.store", offset > 0 && `offset=${offset}`, get(c), get(acc(i, j))));
    }
  }
  return fb;
}
