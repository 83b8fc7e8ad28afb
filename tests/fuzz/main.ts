/**
 * The long fuzz run: `deno task fuzz [--mutants N] [--seed S] [--emit] [--target NAME]`.
 * Mutates the readers' inputs as the suite's readers_test.ts does, with more mutants and
 * fresh seeds (default: from the clock), optionally writing the js module of every file that
 * compiles. Each failure (anything but a clean one-line error or a compile) is printed with
 * its seed, and its files are kept in .tmp/fuzz/<target>-<seed>/ to reproduce it.
 */
import { parseArgs } from "node:util";
import { join } from "../_path.ts";
import { Chooser } from "./_mutate.ts";
import { exercise, type Outcome, targets } from "./_targets.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    mutants: { type: "string", default: "2000" },
    seed: { type: "string" },
    target: { type: "string" },
    emit: { type: "boolean", default: false },
  },
});
const mutants = Number(values.mutants);
const base = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
let failures = 0;

for (const target of targets()) {
  if (values.target && values.target !== target.name) continue;
  const dir = await Deno.makeTempDir({ prefix: "refold-fuzz-" });
  const seen: Record<Outcome, number> = { error: 0, compiled: 0 };
  const start = performance.now();
  for (let i = 0; i < mutants; i++) {
    const seed = (base + i * 7919) >>> 0;
    const mutant = target.mutant(new Chooser(seed));
    try {
      seen[await exercise(mutant, dir, { emit: values.emit })]++;
    } catch (error) {
      failures++;
      const keep = join(".tmp", "fuzz", `${target.name}-${seed}`);
      Deno.mkdirSync(keep, { recursive: true });
      for (const [name, bytes] of Object.entries(mutant.files)) {
        Deno.writeFileSync(join(keep, name), bytes);
      }
      console.log(
        `FAIL ${target.name} seed ${seed}: ${(error as Error).message} (kept in ${keep})`,
      );
    }
  }
  await Deno.remove(dir, { recursive: true });
  const seconds = ((performance.now() - start) / 1000).toFixed(1);
  console.log(
    `${target.name}: ${mutants} mutants from seed ${base} in ${seconds} s: ` +
      `${seen.error} clean errors, ${seen.compiled} compiled`,
  );
}
if (failures > 0) {
  console.log(`${failures} failures`);
  Deno.exit(1);
}
