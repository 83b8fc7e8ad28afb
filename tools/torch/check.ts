/**
 * `deno task torch-check [ARCH] [--target wasm|js] [--deploy]`: the whole promise, at full
 * size. PyTorch (Debian's python3-torch) writes an official-size checkpoint
 * with torch.save and its own eval output; `compile.ts CHECKPOINT --arch ARCH`
 * turns the .pth into a module; the module runs on the same input and must
 * match PyTorch to float32 accuracy. Too slow and too big for CI (a 150 MB
 * checkpoint, PyTorch needed), so it is a task; files are cached in .tmp/torch/.
 *
 *   deno task torch-check                      # RepMLPNet-T224, wasm
 *   deno task torch-check RepMLPNet-B224 --target js
 *   deno task torch-check RepVGG-A0            # also MobileOne-S0 (see full_size.py)
 *   deno task torch-check --deploy             # the checkpoint after the official conversion
 */
import { parseArgs } from "node:util";

const ROOT = new URL("../../", import.meta.url).pathname;
const CACHE = `${ROOT}.tmp/torch`;
/** float32 through ~60 layers: measured 8e-7 on T224 (wasm); 1e-4 would hide a bug. */
const TOLERANCE = 1e-5;

async function run(command: string, args: string[]): Promise<void> {
  const { code } = await new Deno.Command(command, { args, stdout: "inherit", stderr: "inherit" })
    .output();
  if (code !== 0) throw new Error(`${command} ${args.join(" ")} exited with ${code}`);
}

/** The checkpoint, input and PyTorch output of `arch`, generated once. */
export async function fullSizeFiles(
  arch: string,
  options: { onnx?: boolean; deploy?: boolean } = {},
) {
  const base = `${CACHE}/${arch}`;
  const wanted = [
    `${base}.pth`,
    `${base}.expected.bin`,
    ...(options.onnx ? [`${base}.onnx`] : []),
    ...(options.deploy ? [`${base}.deploy.pth`] : []),
  ];
  const missing = await Promise.all(
    wanted.map((path) => Deno.stat(path).then(() => false, () => true)),
  );
  if (missing.some((m) => m)) {
    await run("/usr/bin/python3", [
      `${ROOT}tools/torch/full_size.py`,
      arch,
      CACHE,
      ...(options.onnx ? ["--onnx"] : []),
      ...(options.deploy ? ["--deploy"] : []),
    ]);
  }
  return {
    pth: `${base}.pth`,
    deployPth: `${base}.deploy.pth`,
    onnx: `${base}.onnx`,
    input: new Float32Array((await Deno.readFile(`${base}.input.bin`)).buffer),
    expected: new Float64Array((await Deno.readFile(`${base}.expected.bin`)).buffer),
  };
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      target: { type: "string", default: "wasm" },
      deploy: { type: "boolean", default: false },
    },
  });
  const arch = positionals[0] ?? "RepMLPNet-T224";
  const files = await fullSizeFiles(arch, { deploy: values.deploy });
  const checkpoint = values.deploy ? files.deployPth : files.pth;
  const out = `${CACHE}/${arch}.${values.deploy ? "deploy." : ""}${values.target}`;
  const started = performance.now();
  await run(Deno.execPath(), [
    "run",
    "-A",
    `${ROOT}compile.ts`,
    checkpoint,
    "--arch",
    arch,
    "--target",
    values.target!,
    "--out",
    out,
  ]);
  const compileSeconds = (performance.now() - started) / 1000;
  const { load } = await import(`${out}/model.js`);
  const model = await load();
  const y: Float32Array = await model.run(files.input);
  model.dispose?.();
  let maxAbs = 0, scale = 0;
  y.forEach((value, i) => {
    maxAbs = Math.max(maxAbs, Math.abs(value - files.expected[i]));
    scale = Math.max(scale, Math.abs(files.expected[i]));
  });
  const relative = maxAbs / scale;
  console.log(
    `${arch} (${values.deploy ? "deploy form, " : ""}${values.target}): compiled from .pth in ${
      compileSeconds.toFixed(1)
    } s; ` +
      `output vs PyTorch float64: max abs ${maxAbs.toExponential(2)}, relative ` +
      `${relative.toExponential(2)} (tolerance ${TOLERANCE})`,
  );
  if (!(relative <= TOLERANCE)) Deno.exit(1);
}
