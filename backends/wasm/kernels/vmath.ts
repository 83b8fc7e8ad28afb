/**
 * Vector math for expressions, on f32x4 locals: one table entry per op of
 * the plan's expression language (a unary op rewrites its local in place, a
 * binary op is one instruction).
 *
 * - exp: Cephes expf (range reduction by ln 2 in two parts, degree-5
 *   polynomial, 2^n built in the exponent bits), about 1 ulp; inputs are
 *   clamped to [-87.3, 88] so 2^n stays a normal float.
 * - erf and GELU: the shared float32 approximation of backends/plan/math.ts
 *   (the same one the WGSL kernels use).
 * - relu keeps the reference's NaN -> 0 (x > 0 ? x : 0) with a compare mask.
 */
import {
  type BinaryOp,
  ERF_CLAMP,
  ERF_P,
  ERF_Q,
  GELU_SCALE,
  type UnaryOp,
} from "../../plan/mod.ts";
import { f32x4, type FuncBuilder, get, set, type Sx, sx } from "../wat.ts";

const EXP_POLY = [
  1.9875691500e-4,
  1.3981999507e-3,
  8.3334519073e-3,
  4.1665795894e-2,
  1.6666665459e-1,
  5.0000001201e-1,
];
const fmul = (a: Sx, b: Sx) => sx("f32x4.mul", a, b);
const fadd = (a: Sx, b: Sx) => sx("f32x4.add", a, b);

/** Horner's rule in `x` over `coefficients` (highest power first). */
function horner(coefficients: readonly number[], x: Sx): Sx {
  let acc: Sx = f32x4(coefficients[0]);
  for (const c of coefficients.slice(1)) acc = fadd(fmul(acc, x), f32x4(c));
  return acc;
}

/** v = exp(v). */
function exp(fb: FuncBuilder, v: string): Sx[] {
  const n = fb.local("exp_n", "v128"), r = fb.local("exp_r", "v128");
  return [
    set(v, sx("f32x4.max", sx("f32x4.min", get(v), f32x4(88)), f32x4(-87.3))),
    set(n, sx("f32x4.nearest", fmul(get(v), f32x4(1.44269504088896341)))),
    set(r, sx("f32x4.sub", get(v), fmul(get(n), f32x4(0.693359375)))),
    set(r, sx("f32x4.sub", get(r), fmul(get(n), f32x4(-2.12194440e-4)))),
    set(v, horner(EXP_POLY, get(r))),
    set(v, fadd(fadd(fmul(get(v), fmul(get(r), get(r))), get(r)), f32x4(1))),
    set(
      n,
      sx(
        "i32x4.shl",
        sx(
          "i32x4.add",
          sx("i32x4.trunc_sat_f32x4_s", get(n)),
          sx("v128.const", "i32x4", "127", "127", "127", "127"),
        ),
        sx("i32.const", "23"),
      ),
    ),
    set(v, fmul(get(v), get(n))),
  ];
}

/** v = erf(v). */
function erf(fb: FuncBuilder, v: string): Sx[] {
  const x2 = fb.local("erf_x2", "v128"), p = fb.local("erf_p", "v128");
  return [
    set(v, sx("f32x4.max", sx("f32x4.min", get(v), f32x4(ERF_CLAMP)), f32x4(-ERF_CLAMP))),
    set(x2, fmul(get(v), get(v))),
    set(p, fmul(horner(ERF_P, get(x2)), get(v))),
    set(v, sx("f32x4.div", get(p), horner(ERF_Q, get(x2)))),
  ];
}

/** Emitters that replace the f32x4 local `v` by f(v). */
export const UNARY: { readonly [F in UnaryOp]: (fb: FuncBuilder, v: string) => Sx[] } = {
  relu: (_fb, v) => [set(v, sx("v128.and", get(v), sx("f32x4.gt", get(v), f32x4(0))))],
  sigmoid(fb, v) {
    return [
      set(v, sx("f32x4.neg", get(v))),
      ...exp(fb, v),
      set(v, sx("f32x4.div", f32x4(1), fadd(get(v), f32x4(1)))),
    ];
  },
  erf,
  sqrt: (_fb, v) => [set(v, sx("f32x4.sqrt", get(v)))],
  gelu(fb, v) {
    const x = fb.local("gelu_x", "v128");
    return [
      set(x, get(v)),
      set(v, fmul(get(v), f32x4(GELU_SCALE))),
      ...erf(fb, v),
      set(v, fmul(fmul(get(x), f32x4(0.5)), fadd(get(v), f32x4(1)))),
    ];
  },
};

/** The instruction of each binary op. */
export const BINARY: { readonly [F in BinaryOp]: string } = {
  add: "f32x4.add",
  sub: "f32x4.sub",
  mul: "f32x4.mul",
  div: "f32x4.div",
};
