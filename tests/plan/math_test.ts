/**
 * The one float32 erf/GELU every target renders (backends/plan/math.ts),
 * evaluated operation by operation in float32, against the float64
 * reference the interpreter uses, on a dense grid and at the edges of the
 * clamp: the stated bound holds, and is tight (a looser approximation or a
 * lost clamp would fail it).
 */
import assert from "node:assert/strict";
import { erf } from "../../ir/mod.ts";
import {
  ERF_CLAMP,
  ERF_MAX_ERROR,
  erfF32,
  GELU_MAX_ERROR,
  geluF32,
} from "../../backends/plan/mod.ts";

const geluRef = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));

Deno.test("math: float32 erf within ERF_MAX_ERROR of erf, GELU within GELU_MAX_ERROR", () => {
  let worstErf = 0, worstGelu = 0;
  const points = 400001;
  for (let i = 0; i < points; i++) {
    const x = Math.fround(-8 + (16 * i) / (points - 1));
    worstErf = Math.max(worstErf, Math.abs(erfF32(x) - erf(x)));
    // GELU's error scales with |x|: it is compared relative to max(1, |x|).
    worstGelu = Math.max(worstGelu, Math.abs(geluF32(x) - geluRef(x)) / Math.max(1, Math.abs(x)));
  }
  for (const x of [0, -0, 1e-30, -1e-30, ERF_CLAMP, -ERF_CLAMP, 1e30, -1e30]) {
    worstErf = Math.max(worstErf, Math.abs(erfF32(x) - erf(x)));
  }
  assert.ok(worstErf <= ERF_MAX_ERROR, `erf: ${worstErf.toExponential(2)}`);
  assert.ok(worstErf > ERF_MAX_ERROR / 4, `erf bound is stale: ${worstErf.toExponential(2)}`);
  assert.ok(worstGelu <= GELU_MAX_ERROR, `gelu: ${worstGelu.toExponential(2)}`);
  assert.ok(worstGelu > GELU_MAX_ERROR / 4, `gelu bound is stale: ${worstGelu.toExponential(2)}`);
  assert.equal(erfF32(ERF_CLAMP * 4), 1);
  assert.equal(erfF32(-ERF_CLAMP * 4), -1);
});
