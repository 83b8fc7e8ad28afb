/**
 * `deno task demo`: the main job on a bundled example. Compiles the
 * training-time RepMLP block in examples/models/repmlp_block (model.json +
 * safetensors) to a WebAssembly module, imports it, runs it, and checks it
 * against the float64 reference interpreter on the training-time graph.
 */
import { compileFile } from "../mod.ts";
import { writeOutputDir } from "../cli/output.ts";
import { interpret, sizeOf, summarize, uniform } from "../ir/mod.ts";

const MODEL = "examples/models/repmlp_block/model.json";
const OUT = "out/demo";

const result = await compileFile(MODEL, { target: "wasm" });
await writeOutputDir(OUT, result.files);
const before = summarize(result.training), after = summarize(result.deployed);
const ops = (summary: typeof before) =>
  Object.entries(summary.ops).map(([op, n]) => `${op} ${n}`).join(", ");
console.log(`compiled ${MODEL}`);
console.log(`  training: ${before.parameters.toLocaleString()} parameters; ${ops(before)}`);
console.log(`  deployed: ${after.parameters.toLocaleString()} parameters; ${ops(after)}`);
for (const report of result.reports) {
  console.log(`  pass ${report.pass.padEnd(22)} ${report.changed ? "changed" : "unchanged"}`);
}
console.log(`  wrote ${OUT}/: ${result.files.map((file) => file.path).join(", ")}`);

const { load } = await import(new URL(`../${OUT}/model.js`, import.meta.url).href);
const model = await load();
const [input] = model.inputs;
const x = uniform(sizeOf(input.shape), 2024);
const y: Float32Array = await model.run(x);
const expected = interpret(result.training, { [input.name]: x })[model.outputs[0].name];
let maxDiff = 0, scale = 0;
for (let i = 0; i < y.length; i++) {
  maxDiff = Math.max(maxDiff, Math.abs(y[i] - expected[i]));
  scale = Math.max(scale, Math.abs(expected[i]));
}
const runs = 200;
const start = performance.now();
for (let i = 0; i < runs; i++) await model.run(x);
const ms = (performance.now() - start) / runs;
console.log(
  `ran ${OUT}/model.js on a seeded ${input.name}[${input.shape}]: ${ms.toFixed(3)} ms per run`,
);
console.log(
  `  max |deployed - training| / max |training| = ${(maxDiff / scale).toExponential(2)}`,
);
model.dispose();
if (!(maxDiff / scale <= 1e-5)) {
  console.error("refold demo: the deployed module does not match the training-time graph");
  Deno.exit(1);
}
