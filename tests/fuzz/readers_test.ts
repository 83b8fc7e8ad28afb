// Fuzzing the readers, in the suite: a few hundred seeded mutants of a real ONNX file, a
// safetensors file and a model.json, each through the library; each must be a clean one-line
// error or a valid compile. `deno task fuzz` runs the same targets for longer, with new seeds.
import assert from "node:assert/strict";
import { Chooser } from "./_mutate.ts";
import { exercise, type Outcome, targets } from "./_targets.ts";

const MUTANTS_PER_TARGET = 120;

for (const target of targets()) {
  Deno.test(`fuzz: ${MUTANTS_PER_TARGET} mutants of ${target.name}`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "refold-fuzz-" });
    try {
      const seen: Record<Outcome, number> = { error: 0, compiled: 0 };
      for (let seed = 1; seed <= MUTANTS_PER_TARGET; seed++) {
        const mutant = target.mutant(new Chooser(seed * 7919));
        seen[await exercise(mutant, dir)]++;
      }
      // The mutants must reach both ends: refusals, and files that still compile.
      assert.ok(seen.error >= MUTANTS_PER_TARGET / 10, JSON.stringify(seen));
      assert.ok(seen.compiled >= 1, JSON.stringify(seen));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
