// Adversarial input to compile.ts, one row per class of defect found in QA: the exact
// one-line message on stderr, exit status 1, and no output directory left behind.
// Flags, the output directory, model files and model.json; ONNX rows are in
// adversarial_onnx_test.ts.
import assert from "node:assert/strict";
import { join } from "../_path.ts";
import { type Case, compile, EXAMPLE, example, runCases, tinyJson } from "./_adversarial.ts";

const PASSES = "canonicalize, fold-batchnorm, compose-convs, merge-parallel-convs, conv-into-fc, " +
  "group-fc, lower-batchnorm";

const cases: Case[] = [
  // Flags: checked before the model is read, each naming the flag.
  ...["0x10", "1e3", " 2"].map((batch) => ({
    what: `--batch "${batch}"`,
    args: [join(EXAMPLE, "model.json"), "--batch", batch],
    message: `--batch must be an integer from 1 to 65536, got "${batch}"`,
  })),
  {
    what: "infinite --tolerance",
    args: ["m.json", "--verify", "--tolerance", "Infinity"],
    message: '--tolerance must be a positive number, got "Infinity"',
  },
  {
    what: "--tolerance without --verify",
    args: ["m.json", "--tolerance", "1e-3"],
    message: "--tolerance only applies with --verify",
  },
  ...["", "canonicalize,"].map((passes) => ({
    what: `--passes "${passes}"`,
    args: ["m.json", "--passes", passes],
    message: `--passes takes pass names separated by commas, or none; got "${passes}"`,
  })),
  {
    what: "--passes with an unknown pass",
    args: ["m.json", "--passes", "fold-bn"],
    message: `--passes: unknown pass "fold-bn"; the passes are ${PASSES}, or none alone`,
  },
  {
    what: "--dump-after all next to an unknown pass",
    args: ["m.json", "--dump-after", "all", "--dump-after", "fold-bn"],
    message: `--dump-after: unknown pass "fold-bn"; the passes are ${PASSES}, or all`,
  },
  {
    what: "--dump-after a pass --passes leaves out",
    args: ["m.json", "--passes", "canonicalize", "--dump-after", "group-fc"],
    message: "--dump-after group-fc: --passes canonicalize does not run it",
  },
  {
    what: "--f16 for a target other than webgpu",
    args: ["m.json", "--f16"],
    message: "--f16 applies to --target webgpu only, not js",
  },
  {
    what: "empty --out",
    args: ["m.json", "--out", ""],
    message: "--out must name a directory, got an empty string",
  },
  {
    what: "unknown option",
    args: ["m.json", "--frobnicate"],
    message: "unknown option --frobnicate (see --help)",
  },
  // refold replaces only what its manifest says it wrote: never the model, never an app's files.
  {
    what: "--out holding the model",
    files: { ...example(), "model.js": "// an earlier output" },
    args: ["D/model.json", "--out", "D"],
    message: "--out D holds the model D/model.json; refold never writes where its input is",
    keeps: "model.safetensors",
  },
  {
    what: "--out . in the model's folder",
    files: example(),
    args: ["model.json", "--out", "."],
    message: "--out . holds the model model.json; refold never writes where its input is",
    keeps: "model.safetensors",
  },
  {
    what: "--out an app folder that has a model.js of its own",
    files: {
      ...example(),
      "app/model.js": "// the app's",
      "app/.env": "KEY=1",
      "app/src/a.ts": "",
    },
    args: ["D/model.json", "--out", "D/app"],
    message: '--out D/app holds ".env", "model.js", "src", which refold did not write (it has no ' +
      ".refold-manifest.json); refusing to touch it",
    keeps: "app/.env",
  },
  {
    what: "--out the folder of the weights a model.json climbs to",
    files: {
      "m/model.json": JSON.stringify({
        ...JSON.parse(example()["model.json"] as string),
        weights: { file: "../w/model.safetensors" },
      }),
      "w/model.safetensors": example()["model.safetensors"],
    },
    args: ["D/m/model.json", "--out", "D/w"],
    message: '--out D/w holds "model.safetensors", which refold did not write (it has no ' +
      ".refold-manifest.json); refusing to touch it",
    keeps: "w/model.safetensors",
  },
  // Reading a FIFO or a device blocks: a model must be a regular file.
  {
    what: "a directory named like a model",
    files: { "m.onnx/keep": "" },
    args: ["D/m.onnx"],
    message: "D/m.onnx: is not a file",
  },
  // Absurd sizes are refused when the node is built, before anything allocates them.
  {
    what: "a conv padded to 7e12 elements",
    files: example((json) => (json.nodes[11].attrs.pads = 40000)),
    args: ["D/model.json"],
    message: 'D/model.json: node "conv2d_0" ($.nodes[11]): its output f32[4,288,80001,80001] ' +
      "would have 7372984321152 elements, more than 2^30",
  },
  {
    what: "a broadcast to 2^32 elements",
    files: {
      "m.json": tinyJson({ a: [65536, 1], b: [1, 65536] }, { op: "add", inputs: ["a", "b"] }),
    },
    args: ["D/m.json"],
    message: 'D/m.json: node "n" ($.nodes[0]): its output f32[65536,65536] would have ' +
      "4294967296 elements, more than 2^30",
  },
  // A negative running variance would fold into NaN weights.
  {
    what: "model.json BatchNorm with a negative running variance",
    files: example(undefined, (header, data) => {
      data.setFloat32(header["fc3_bn.running_var"].data_offsets[0] + 8, -5, true);
    }),
    args: ["D/model.json"],
    message: 'D/model.json: node "batchnorm_1" ($.nodes[13]): running variance ' +
      '"fc3_bn.running_var" is -5 at index 2; a variance is never negative',
  },
  // A node without "attrs" escaped the schema's required attributes (reshape crashed).
  {
    what: "a reshape without attrs",
    files: { "m.json": tinyJson({ x: [1, 2] }, { op: "reshape", inputs: ["x"] }) },
    args: ["D/m.json"],
    message: 'D/m.json: $.nodes[0]: missing required property "attrs" (reshape needs shape)',
  },
  // Non-finite JSON numbers are shown as what they are.
  {
    what: "an input dimension of 1e400",
    files: {
      "m.json": tinyJson({ x: [1, 2] }, { op: "relu", inputs: ["x"] }).replace(
        "[1,2]",
        "[1e400,2]",
      ),
    },
    args: ["D/m.json"],
    message: 'D/m.json: $.inputs[0].shape[0]: must be an integer >= 1 and <= 1073741824 or "N", ' +
      "got Infinity",
  },
  // ONNX stores names as UTF-8: a lone surrogate would come back as another name.
  {
    what: "--target onnx with a lone surrogate in a name",
    files: { "m.json": tinyJson({ "x\ud800": [1, 2] }, { op: "relu", inputs: ["x\ud800"] }) },
    args: ["D/m.json", "--target", "onnx"],
    message: 'ONNX export: the name "x\\ud800" is not well-formed Unicode',
  },
];

runCases(cases);

Deno.test({
  name: "CLI adversarial: a FIFO named model.onnx is refused, not read",
  ignore: Deno.build.os === "windows",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "refold-adv-" });
    try {
      const made = await new Deno.Command("mkfifo", { args: [join(dir, "m.onnx")] }).output()
        .catch(() => undefined);
      if (!made?.success) return; // no mkfifo here; the directory case covers the same check
      const result = await compile([join(dir, "m.onnx"), "--out", join(dir, "out")], dir);
      assert.equal(result.code, 1);
      assert.equal(
        result.stderr.trim().replaceAll(dir, "D"),
        "refold: error: D/m.onnx: is not a file",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
