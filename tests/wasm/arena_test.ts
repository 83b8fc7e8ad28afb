// The activation arena: values that are dead share memory, so the peak stays below the sum.
import assert from "node:assert/strict";
import { planArena } from "../../backends/wasm/arena.ts";
import { WASM_CAPS } from "../../backends/wasm/compile.ts";
import { planProgram } from "../../backends/plan/mod.ts";
import { lightBlockGraph } from "./_deployed.ts";

Deno.test("arena: memory of dead values is reused", () => {
  const program = planProgram(
    lightBlockGraph({
      batch: 1,
      channels: 8,
      outChannels: 8,
      height: 14,
      width: 21,
      h: 7,
      w: 7,
      groups: 4,
      reduction: 2,
      wide: 32,
    }),
    WASM_CAPS,
  );
  const plan = planArena(program, new Map());
  const total = [...plan.values.keys()].reduce((a, value) => a + value.size * 4, 0);
  assert.ok(plan.peak < total, `peak ${plan.peak} should be below the sum ${total}`);
  const offsets = [...plan.values.values()];
  assert.ok(new Set(offsets).size < offsets.length, "some values share an offset");
});
