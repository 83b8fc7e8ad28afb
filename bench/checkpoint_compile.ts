/**
 * From a file to the deployed graph, for the same RepMLPNet-B224 weights in
 * the two forms a user has: the official checkpoint (torch.save .pth, read
 * by refold without Python) and its ONNX export (torch.onnx.export as
 * docs/onnx.md recommends). Each runs in a fresh process, so that its peak
 * resident set (VmHWM) is its own; the time counts reading the file,
 * building or importing the graph, and the pass pipeline (code generation is
 * the same for both and left out). The files come from tools/torch/full_size.py
 * (Debian's python3-torch), cached in .tmp/torch/.
 */
import { buildArch } from "../arch/mod.ts";
import { PIPELINE, runPipeline } from "../compiler/mod.ts";
import { loadOnnx, openCheckpoint } from "../formats/mod.ts";
import { type Graph, summarize } from "../ir/mod.ts";
import { fullSizeFiles } from "../tools/torch/check.ts";

/** One path from a file to the deployed graph. */
export interface PathMeasurement {
  readonly path: "pth" | "onnx";
  readonly file: string;
  readonly fileBytes: number;
  readonly weightBytes: number;
  /** Reading and building (pth) or importing (onnx) the training-time graph. */
  readonly loadMs: number;
  readonly pipelineMs: number;
  readonly peakBytes: number;
}

function peakResident(): number {
  const line = Deno.readTextFileSync("/proc/self/status").split("\n")
    .find((entry) => entry.startsWith("VmHWM:"));
  return line ? Number(line.split(/\s+/)[1]) * 1024 : Deno.memoryUsage().rss;
}

/** Loads and compiles `file` in this process (the child side). */
export async function measurePath(path: "pth" | "onnx", file: string): Promise<PathMeasurement> {
  const start = performance.now();
  let training: Graph;
  let passes: string[] | undefined;
  if (path === "pth") {
    const checkpoint = await openCheckpoint(file);
    const built = await buildArch("RepMLPNet-B224", { weights: checkpoint });
    checkpoint.close();
    training = built.graph;
    passes = PIPELINE.map((pass) => pass.name).filter((name) => !built.skipPasses.includes(name));
  } else {
    training = await loadOnnx(file);
  }
  const loadMs = performance.now() - start;
  const { weightBytes } = summarize(training);
  const pipelineStart = performance.now();
  runPipeline(training, { passes });
  return {
    path,
    file,
    fileBytes: (await Deno.stat(file)).size,
    weightBytes,
    loadMs,
    pipelineMs: performance.now() - pipelineStart,
    peakBytes: peakResident(),
  };
}

async function child(path: "pth" | "onnx", file: string): Promise<PathMeasurement> {
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("compile_bench.ts", import.meta.url).pathname,
      `--child-${path}`,
      file,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (code !== 0) throw new Error(`the ${path} measurement exited with ${code}`);
  return JSON.parse(new TextDecoder().decode(stdout));
}

const MB = 2 ** 20;

/**
 * Measures both paths and prints them; returns false when the .pth path
 * misses its targets (faster and smaller than ONNX, peak < 3x weights).
 */
export async function compareCheckpointPaths(): Promise<boolean> {
  let files;
  try {
    files = await fullSizeFiles("RepMLPNet-B224", { onnx: true });
  } catch (error) {
    console.log(`checkpoint vs ONNX: skipped, no PyTorch to write the files (${error})`);
    return true;
  }
  // Alternated, twice each, so that a change in the machine's load shows; the best of each counts.
  const runs: PathMeasurement[] = [];
  for (let round = 0; round < 2; round++) {
    runs.push(await child("pth", files.pth), await child("onnx", files.onnx));
  }
  const total = (m: PathMeasurement) => m.loadMs + m.pipelineMs;
  const best = (path: string) =>
    runs.filter((m) => m.path === path).reduce((a, b) => (total(b) < total(a) ? b : a));
  const pth = best("pth"), onnx = best("onnx");
  for (const m of runs) {
    console.log(
      `  ${m.path.padEnd(4)} ${(m.fileBytes / MB).toFixed(0)} MiB file: load ${
        (m.loadMs / 1000).toFixed(2)
      } s + pipeline ${(m.pipelineMs / 1000).toFixed(2)} s = ${
        ((m.loadMs + m.pipelineMs) / 1000).toFixed(2)
      } s; peak RSS ${(m.peakBytes / MB).toFixed(0)} MiB = ${
        (m.peakBytes / m.weightBytes).toFixed(2)
      }x the ${(m.weightBytes / MB).toFixed(0)} MiB of weights`,
    );
  }
  const time = total(pth) / total(onnx);
  const memory = pth.peakBytes / onnx.peakBytes;
  const ok = time < 1 && memory < 1 && pth.peakBytes < 3 * pth.weightBytes;
  console.log(
    `  .pth vs ONNX (best run of each): ${time.toFixed(2)}x the time, ${memory.toFixed(2)}x the ` +
      `peak memory; load alone ${(pth.loadMs / onnx.loadMs).toFixed(2)}x\n  ${
        ok ? "ok" : "TARGET MISSED"
      } (targets: faster and smaller than ONNX, peak < 3x weight bytes)`,
  );
  return ok;
}
