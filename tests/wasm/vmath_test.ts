// The epilogues' float32 erf, sigmoid and GELU against the float64 reference on a dense grid:
// absolute errors at the 1e-7 level (a few float32 ulps of 1), not just within a model tolerance;
// erf and GELU are the plan's shared approximation, computed bit for bit as erfF32/geluF32 do.
import assert from "node:assert/strict";
import { erf, GraphBuilder, makeNode } from "../../ir/mod.ts";
import { ERF_MAX_ERROR, erfF32, GELU_MAX_ERROR, geluF32 } from "../../backends/plan/mod.ts";
import { compileModel } from "../../backends/wasm/compile.ts";
import { ENGINES, runCompiled } from "./_run.ts";

const POINTS = 24001;
const grid = Float32Array.from({ length: POINTS }, (_, i) => -12 + (24 * i) / (POINTS - 1));

const REFERENCE: Record<string, (x: number) => number> = {
  erf,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
};
const BOUND: Record<string, number> = { erf: ERF_MAX_ERROR, sigmoid: 2e-7, gelu: GELU_MAX_ERROR };
const SHARED: Record<string, (x: number) => number> = { erf: erfF32, gelu: geluF32 };

Deno.test("vmath: erf, sigmoid and gelu within a few ulps on [-12, 12]", async () => {
  const b = new GraphBuilder("vmath");
  const x = b.input("x", [POINTS]);
  b.output("erf", makeNode("erf", [x], {}));
  b.output("sigmoid", b.sigmoid(x));
  b.output("gelu", b.gelu(x));
  const compiled = compileModel(b.build());
  for (const engine of ENGINES) {
    const outputs = await runCompiled(compiled, { x: grid }, engine);
    for (const [name, reference] of Object.entries(REFERENCE)) {
      let worst = 0;
      grid.forEach((value, i) => {
        // GELU's error scales with |x|: compare relative to max(1, |x|).
        const scale = name === "gelu" ? Math.max(1, Math.abs(value)) : 1;
        worst = Math.max(worst, Math.abs(outputs[name][i] - reference(value)) / scale);
      });
      assert.ok(worst <= BOUND[name], `${name} (${engine}): max error ${worst.toExponential(2)}`);
      const shared = SHARED[name];
      if (shared) {
        const differs = grid.findIndex((value, i) => outputs[name][i] !== shared(value));
        assert.equal(differs, -1, `${name} (${engine}) differs from the shared float32 definition`);
      }
    }
  }
});
