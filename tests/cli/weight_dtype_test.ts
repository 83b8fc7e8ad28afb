// --weight-dtype and --quantize on the command line: flags checked before the model is read, one
// line per mistake (and a clear refusal where a target cannot compute in int8); a weight beyond
// f16's range named; the compile report's weight bytes and worst relative weight error, with
// weights.bin of exactly those bytes and a module that loads it.
import assert from "node:assert/strict";
import { interpret, uniform } from "../../ir/mod.ts";
import { loadModelFile } from "../../formats/mod.ts";
import { compareArrays } from "../_assert.ts";
import { join } from "../_path.ts";
import { type Case, example, runCases } from "./_adversarial.ts";
import { ROOT, runCli } from "./_run.ts";

/** The digits network trained by PyTorch (tests/fixtures/digits): 416 KiB of f32 weights. */
const DIGITS = join(ROOT, "tests", "fixtures", "digits", "digits_repmlp.onnx");

const cases: Case[] = [
  {
    what: "an unknown --weight-dtype",
    args: ["m.json", "--weight-dtype", "fp8"],
    message: 'unknown --weight-dtype "fp8"; use one of f32, f16, int8',
  },
  {
    what: "--f16 with another --weight-dtype",
    args: ["m.json", "--target", "webgpu", "--f16", "--weight-dtype", "f32"],
    message: "--f16 stores weights as f16; --weight-dtype f32 contradicts it",
  },
  {
    what: "an unknown --quantize",
    args: ["m.json", "--target", "onnx", "--quantize", "int4"],
    message: 'unknown --quantize "int4"; the only one is int8',
  },
  {
    what: "--quantize int8 for the js target",
    args: ["m.json", "--quantize", "int8"],
    message: "--quantize int8: the js target computes in f32; use --weight-dtype int8 to store " +
      "int8 weights, or --target onnx for int8 compute",
  },
  {
    what: "--quantize int8 with --weight-dtype f16 for --target webgpu",
    args: ["m.json", "--target", "webgpu", "--quantize", "int8", "--weight-dtype", "f16"],
    message: "--quantize int8 on webgpu stores int8 weights (f32 compute); --weight-dtype f16 " +
      "contradicts it",
  },
  {
    what: "--quantize int8 with --f16 for --target webgpu",
    args: ["m.json", "--target", "webgpu", "--quantize", "int8", "--f16"],
    message: "--quantize int8 on webgpu stores int8 weights (f32 compute); --f16 contradicts it",
  },
  {
    what: "--quantize-skip without --quantize",
    args: ["m.json", "--target", "wasm", "--quantize-skip", "fc.weight"],
    message: "--quantize-skip applies with --quantize int8 --target wasm only",
  },
  {
    what: "--quantize-min-macs for the onnx target",
    args: ["m.json", "--target", "onnx", "--quantize", "int8", "--quantize-min-macs", "10"],
    message: "--quantize-min-macs applies with --quantize int8 --target wasm only",
  },
  {
    what: "--quantize-first without --quantize",
    args: ["m.json", "--target", "wasm", "--quantize-first"],
    message: "--quantize-first applies with --quantize int8 --target wasm only",
  },
  {
    what: "a --quantize-min-macs that is not a count",
    args: ["m.json", "--target", "wasm", "--quantize", "int8", "--quantize-min-macs", "1e3x"],
    message: '--quantize-min-macs must be a whole number >= 0, got "1e3x"',
  },
  {
    what: "a weight beyond f16's range",
    files: example(undefined, (header, data) => {
      data.setFloat32(header["fc1_fc2.fc2.weight"].data_offsets[0] + 12, -1e5, true);
    }),
    args: ["D/model.json", "--passes", "none", "--weight-dtype", "f16"],
    message: '--weight-dtype f16: weight "fc1_fc2.fc2.weight" holds -100000 (flat index 3), ' +
      "beyond f16's range of ±65504; store weights as f32 or int8",
  },
];

runCases(cases);

Deno.test("--weight-dtype int8: the report's bytes are weights.bin's, and the module loads it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "refold-wdt-" });
  try {
    const out = join(dir, "out");
    const result = await runCli([DIGITS, "--weight-dtype", "int8", "--out", out]);
    assert.equal(result.code, 0, result.stderr);
    const line = result.stdout.split("\n").find((l) => l.startsWith("  weights: "));
    const match = line?.match(
      /^ {2}weights: int8 \+ f32, ([\d.]+) KiB stored \(([\d.]+) KiB as f32, ([\d.]+)x smaller\); worst relative weight error (\d\.\d\de-\d) \(([\w.]+), output channel \d+ of (\d+)\)$/,
    );
    assert.ok(match, `report line: ${line}\n${result.stdout}`);
    const size = Deno.statSync(join(out, "weights.bin")).size;
    assert.equal(match[1], (size / 1024).toFixed(1));
    assert.ok(Number(match[3]) > 3.5, "int8 kernels make weights.bin over 3.5x smaller");
    // At most half a step of 1/127 (printed with three digits).
    assert.ok(Number(match[4]) > 1e-3 && Number(match[4]) <= 3.94e-3);
    // The worst error is in a kernel, measured per output channel.
    assert.match(match[5], /weight$/);
    const { load } = await import(`file://${out}/model.js`);
    const module = await load();
    const x = uniform(64, 3, 0, 1);
    const deployed = await loadModelFile(DIGITS, { batch: 1 });
    const expected = interpret(deployed, { image: x }).logits;
    // Within int8's reach of the f32 model: far from exact, far from garbage.
    const { relative } = compareArrays(await module.run(x), expected);
    assert.ok(relative > 1e-5 && relative < 2e-2, `relative error ${relative}`);
    module.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--target wasm --quantize int8: int8 GEMMs reported, weights.bin of the report's bytes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "refold-q8-" });
  try {
    const out = join(dir, "out");
    const skip = "block1.light_repmlp.fc3.local.weight";
    const result = await runCli([
      DIGITS,
      "--target",
      "wasm",
      "--quantize",
      "int8",
      "--quantize-min-macs",
      "1000",
      "--quantize-skip",
      skip,
      "--out",
      out,
    ]);
    assert.equal(result.code, 0, result.stderr);
    const note = result.stdout.split("\n").find((l) => l.includes("int8 compute: "));
    assert.match(note ?? "", /int8 compute: 6 of 9 GEMMs, [\d.]+% of multiply-adds; f32: /);
    assert.ok(note!.includes(`"${skip}": listed in --quantize-skip`), note);
    const line = result.stdout.split("\n").find((l) => l.startsWith("  weights: "))!;
    const match = line.match(/^ {2}weights: int8 \+ f32, ([\d.]+) KiB stored/);
    assert.ok(match, line);
    const size = Deno.statSync(join(out, "weights.bin")).size;
    assert.equal(match[1], (size / 1024).toFixed(1));
    const { load } = await import(`file://${out}/model.js`);
    const module = await load();
    const x = uniform(64, 3, 0, 1);
    const deployed = await loadModelFile(DIGITS, { batch: 1 });
    const { relative } = compareArrays(
      await module.run(x),
      interpret(deployed, { image: x }).logits,
    );
    assert.ok(relative > 1e-5 && relative < 2e-2, `relative error ${relative}`);
    module.dispose();
    const unknown = await runCli([
      DIGITS,
      "--target",
      "wasm",
      "--quantize",
      "int8",
      "--quantize-skip",
      "fc9.weight",
      "--out",
      join(dir, "bad"),
    ]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /--quantize-skip: no linear\/conv2d weight named "fc9.weight"/);
    assert.equal(unknown.stderr.trim().split("\n").length, 1, unknown.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
