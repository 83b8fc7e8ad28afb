/**
 * The float32 approximations every target renders, defined once so that
 * wasm and WGSL kernels compute the same numbers the same way.
 *
 * erf: the rational approximation Eigen and XLA use for float32,
 * erf(x) = x * P(x^2) / Q(x^2) on x clamped to [-4, 4] (erf(4) rounds to 1
 * in float32), both polynomials by Horner's rule highest power first. It is
 * 6.5e-8 from erf in exact arithmetic; evaluated in float32 with separate
 * multiplies and adds it is at most 4.4e-7 from the float64 erf (near
 * x = -3.9; 3.7 ulp of 1), within ERF_MAX_ERROR. tests/plan/math_test.ts
 * measures that on a dense grid; the wasm kernels compute erfF32 bit for
 * bit, and the WebGPU test holds the rendered WGSL to the same bound.
 *
 * GELU: x * 0.5 * (erf(x * sqrt(1/2)) + 1), in that order: at most 2.6e-7
 * from the float64 GELU relative to max(1, |x|), within GELU_MAX_ERROR.
 */

/** Coefficients of P, highest power of x^2 first. */
export const ERF_P: readonly number[] = [
  -2.72614225801306e-10,
  2.77068142495902e-08,
  -2.10102402082508e-06,
  -5.69250639462346e-05,
  -7.34990630326855e-04,
  -2.95459980854025e-03,
  -1.60960333262415e-02,
];

/** Coefficients of Q, highest power of x^2 first. */
export const ERF_Q: readonly number[] = [
  -1.45660718464996e-05,
  -2.13374055278905e-04,
  -1.68282697438203e-03,
  -7.37332916720468e-03,
  -1.42647390514189e-02,
];

/** erf's argument is clamped to [-ERF_CLAMP, ERF_CLAMP]. */
export const ERF_CLAMP = 4;

/** Bound on |erfF32(x) - erf(x)| for float32 x. */
export const ERF_MAX_ERROR = 5e-7;

/** Bound on |geluF32(x) - gelu(x)| / max(1, |x|) for float32 x. */
export const GELU_MAX_ERROR = 4e-7;

/** The multiplier of x inside GELU's erf. */
export const GELU_SCALE = Math.SQRT1_2;

const f = Math.fround;

function horner(coefficients: readonly number[], x: number): number {
  let acc = f(coefficients[0]);
  for (const c of coefficients.slice(1)) acc = f(f(acc * x) + f(c));
  return acc;
}

/** erf exactly as the kernels evaluate it, operation by operation in float32. */
export function erfF32(x: number): number {
  const v = f(Math.max(Math.min(f(x), ERF_CLAMP), -ERF_CLAMP));
  const x2 = f(v * v);
  return f(f(horner(ERF_P, x2) * v) / horner(ERF_Q, x2));
}

/** GELU exactly as the kernels evaluate it, in float32. */
export function geluF32(x: number): number {
  const v = f(x);
  return f(f(v * 0.5) * f(erfF32(f(v * f(GELU_SCALE))) + 1));
}
