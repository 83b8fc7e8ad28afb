/**
 * `deno task bench [--quick] [compile|wasm|convs|webgpu|quantize ...]`: runs refold's
 * benchmarks one after another, each in its own process so that one's memory
 * and JIT state do not colour the next. Every benchmark measures its peers
 * in the same run and prints ratios, since this machine is shared and noisy.
 */
const BENCHMARKS: Record<string, string> = {
  compile: "compile_bench.ts",
  wasm: "wasm_bench.ts",
  convs: "conv_breakdown.ts",
  webgpu: "webgpu_bench.ts",
  quantize: "quantize_bench.ts",
};

/**
 * V8 flags per benchmark. The wasm and convs benchmarks compile every module
 * (refold's and the peers') with the optimizing tier up front: with dynamic
 * tiering a loaded machine can leave hot functions in the baseline tier past
 * the warm-up, which timed whichever runner it happened to.
 */
const V8_FLAGS: Record<string, string> = {
  wasm: "--max-old-space-size=16384,--no-wasm-dynamic-tiering",
  convs: "--max-old-space-size=16384,--no-wasm-dynamic-tiering",
};

const flags = Deno.args.filter((arg) => arg.startsWith("--"));
const chosen = Deno.args.filter((arg) => !arg.startsWith("--"));
for (const name of chosen) {
  if (!(name in BENCHMARKS)) {
    console.error(`bench: unknown benchmark "${name}"; use ${Object.keys(BENCHMARKS).join(", ")}`);
    Deno.exit(1);
  }
}

let failed = false;
for (const name of chosen.length > 0 ? chosen : Object.keys(BENCHMARKS)) {
  console.log(`\n## ${name}\n`);
  const script = new URL(BENCHMARKS[name], import.meta.url).pathname;
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `--v8-flags=${V8_FLAGS[name] ?? "--max-old-space-size=16384"}`,
      script,
      ...flags,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    console.error(`bench: ${name} exited with status ${code}`);
    failed = true;
  }
}
if (failed) Deno.exit(1);
