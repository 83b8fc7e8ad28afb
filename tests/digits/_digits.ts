/**
 * The digits fixture (tests/fixtures/digits, written by gen_digits.py): a
 * RepMLP network trained by PyTorch on sklearn's digits, its test split and
 * PyTorch's logits; and helpers to deploy it, run a target's module or an
 * ONNX model over the whole split one image at a time, and score the result.
 */
import * as ort from "onnxruntime-web";
import type { EmitResult } from "../../backends/mod.ts";
import { runPipeline } from "../../compiler/mod.ts";
import { loadOnnx } from "../../formats/onnx/mod.ts";
import type { Graph } from "../../ir/mod.ts";
import { fromFileUrl, join } from "../_path.ts";

const DIR = fromFileUrl(new URL("../fixtures/digits/", import.meta.url).href);

/** What gen_digits.py measured, from digits.json. */
export interface DigitsMeta {
  readonly split: { readonly test: number };
  readonly input: { readonly name: string; readonly shape: number[] };
  readonly output: { readonly name: string; readonly shape: number[] };
  readonly torch_accuracy_float32: number;
  readonly torch_correct_float32: number;
}

/** The test split and PyTorch's results on it. */
export interface Digits {
  readonly meta: DigitsMeta;
  /** [count, 1, 8, 8] float32. */
  readonly images: Float32Array;
  readonly labels: Uint8Array;
  /** PyTorch's eval-mode logits, [count, 10], computed in float64. */
  readonly torchLogits: Float64Array;
  readonly count: number;
  readonly classes: number;
}

/** Loads the fixture. */
export function loadDigits(): Digits {
  const meta: DigitsMeta = JSON.parse(Deno.readTextFileSync(join(DIR, "digits.json")));
  const images = new Float32Array(Deno.readFileSync(join(DIR, "test_images.bin")).buffer);
  const labels = Deno.readFileSync(join(DIR, "test_labels.bin"));
  const torchLogits = new Float64Array(Deno.readFileSync(join(DIR, "torch_logits.bin")).buffer);
  const count = meta.split.test;
  return { meta, images, labels, torchLogits, count, classes: torchLogits.length / count };
}

/** The training-time ONNX at batch 1, deployed by the whole pipeline. */
export async function deployedDigits(): Promise<Graph> {
  const training = await loadOnnx(join(DIR, "digits_repmlp.onnx"), { batch: 1 });
  return runPipeline(training).graph;
}

/** One image of the split. */
export function image(digits: Digits, index: number): Float32Array {
  const size = digits.images.length / digits.count;
  return digits.images.subarray(index * size, (index + 1) * size);
}

/** How many images the logits classify right (first highest logit wins). */
export function correct(digits: Digits, logits: ArrayLike<number>): number {
  let right = 0;
  for (let i = 0; i < digits.count; i++) {
    let best = 0;
    for (let c = 1; c < digits.classes; c++) {
      if (logits[i * digits.classes + c] > logits[i * digits.classes + best]) best = c;
    }
    if (best === digits.labels[i]) right++;
  }
  return right;
}

/** Percentage points of top-1 accuracy. */
export function percent(digits: Digits, right: number): number {
  return (100 * right) / digits.count;
}

/** The worst, over images, of the cosine similarity of two models' logits. */
export function worstCosine(digits: Digits, a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 1;
  for (let i = 0; i < digits.count; i++) {
    let dot = 0, na = 0, nb = 0;
    for (let c = 0; c < digits.classes; c++) {
      const x = a[i * digits.classes + c], y = b[i * digits.classes + c];
      dot += x * y;
      na += x * x;
      nb += y * y;
    }
    worst = Math.min(worst, dot / Math.sqrt(na * nb));
  }
  return worst;
}

/** Writes a target's files into a temporary directory; returns its path. */
export async function writeModule(result: EmitResult): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "refold_digits_" });
  for (const file of result.files) {
    const bytes = typeof file.contents === "string"
      ? new TextEncoder().encode(file.contents)
      : file.contents;
    await Deno.writeFile(join(dir, file.path), bytes);
  }
  return dir;
}

/** Imports model.js from `dir`, runs every image of the split, returns all logits. */
export async function runModule(digits: Digits, dir: string): Promise<Float32Array> {
  const { load } = await import(`file://${dir}/model.js`);
  const model = await load();
  try {
    const logits = new Float32Array(digits.count * digits.classes);
    for (let i = 0; i < digits.count; i++) {
      logits.set(await model.run(image(digits, i)), i * digits.classes);
    }
    return logits;
  } finally {
    model.dispose();
  }
}

/** Runs every image through an ONNX model in onnxruntime-web (wasm, one thread). */
export async function runOnnx(digits: Digits, bytes: Uint8Array): Promise<Float32Array> {
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  try {
    const { input, output } = digits.meta;
    const logits = new Float32Array(digits.count * digits.classes);
    for (let i = 0; i < digits.count; i++) {
      const feeds = { [input.name]: new ort.Tensor("float32", image(digits, i), input.shape) };
      const result = await session.run(feeds);
      logits.set(result[output.name].data as Float32Array, i * digits.classes);
    }
    return logits;
  } finally {
    await session.release();
  }
}
