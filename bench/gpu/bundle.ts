/**
 * Prepares the WebGPU benchmark for a machine with a GPU and no network:
 * bundles bench/webgpu_bench.ts and everything it imports (refold, the
 * examples, the ONNX exporter, onnxruntime-web) into one ES module, next to
 * the onnxruntime-web wasm file it loads. Run by bench/gpu/prepare.sh.
 *
 *   deno run -A bench/gpu/bundle.ts OUTDIR
 */
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";

const out = Deno.args[0] ?? ".gpu";
const root = fileURLToPath(new URL("../../", import.meta.url));
await Deno.mkdir(out, { recursive: true });
try {
  await esbuild.build({
    entryPoints: [`${root}bench/webgpu_bench.ts`],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    mainFields: ["module", "main"],
    conditions: ["import", "default"],
    external: ["node:*"],
    outfile: `${out}/webgpu_bench.js`,
    logLevel: "warning",
  });
} finally {
  await esbuild.stop();
}
// onnxruntime-web's WebGPU build loads these relative to the module that imports it.
for (
  const file of ["ort-wasm-simd-threaded.asyncify.wasm", "ort-wasm-simd-threaded.asyncify.mjs"]
) {
  await Deno.copyFile(`${root}node_modules/onnxruntime-web/dist/${file}`, `${out}/${file}`);
}
console.log(`bundled the WebGPU benchmark into ${out}/`);
