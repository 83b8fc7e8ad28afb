/**
 * Compile-time benchmark: RepMLPNet-B224 (68M parameters) through every pass.
 * Targets: under 10 s wall time and a peak resident set under 3x the weight
 * bytes. Each model runs in a fresh subprocess, so that the peak (VmHWM from
 * /proc/self/status) belongs to that model alone; it counts everything the
 * process holds: the Deno runtime, the training graph and the deployed graph.
 *
 * The peer, measured in the same process: copying every training weight
 * once, the least any compiler that writes new weights must do. The ratio
 * says how many passes over the weights the pipeline costs.
 *
 * Then the same B224 weights from files: the official .pth against its ONNX
 * export (bench/checkpoint_compile.ts; needs python3-torch once to write them).
 *
 *   deno run -A bench/compile_bench.ts [--quick] [example ...]
 *   (default: repmlpnet-b224 and resnet50, then .pth vs ONNX; --quick: repmlpnet-b224 only)
 */
import { compareCheckpointPaths, measurePath } from "./checkpoint_compile.ts";
import { runPipeline } from "../compiler/mod.ts";
import { EXAMPLES } from "../examples/mod.ts";
import { type Graph, summarize, topoOrder } from "../ir/mod.ts";

/** What one compile measured. */
export interface CompileMeasurement {
  model: string;
  parameters: number;
  weightBytes: number;
  buildMs: number;
  compileMs: number;
  /** Milliseconds per pass, in pipeline order. */
  passMs: { pass: string; ms: number }[];
  /** Copying every weight once, in the same process. */
  copyMs: number;
  /** Resident set before compiling (runtime plus the training graph). */
  rssBeforeBytes: number;
  /** Peak resident set of the whole process (VmHWM). */
  peakBytes: number;
}

const MB = 2 ** 20;

function peakResident(): number {
  const line = Deno.readTextFileSync("/proc/self/status").split("\n")
    .find((entry) => entry.startsWith("VmHWM:"));
  return line ? Number(line.split(/\s+/)[1]) * 1024 : Deno.memoryUsage().rss;
}

function copyWeights(graph: Graph): number {
  const start = performance.now();
  let checksum = 0;
  for (const node of topoOrder(graph)) {
    if (node.op === "weight") checksum += node.data!.slice()[0];
  }
  if (Number.isNaN(checksum)) console.error("(weights hold NaN)");
  return performance.now() - start;
}

/** Builds and compiles one example in this process. */
export function measureCompile(model: string): CompileMeasurement {
  const example = EXAMPLES[model];
  if (!example) throw new Error(`unknown example "${model}"`);
  let start = performance.now();
  const training = example.build({ batch: 1 });
  const buildMs = performance.now() - start;
  const { parameters, weightBytes } = summarize(training);
  const rssBeforeBytes = Deno.memoryUsage().rss;
  start = performance.now();
  const { reports } = runPipeline(training);
  const compileMs = performance.now() - start;
  const peakBytes = peakResident();
  return {
    model,
    parameters,
    weightBytes,
    buildMs,
    compileMs,
    passMs: reports.map(({ pass, ms }) => ({ pass, ms })),
    copyMs: copyWeights(training),
    rssBeforeBytes,
    peakBytes,
  };
}

/** Runs measureCompile for `model` in a fresh Deno process. */
export async function measureInSubprocess(model: string): Promise<CompileMeasurement> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--child", model],
    stdout: "piped",
    stderr: "inherit",
  });
  const { code, stdout } = await command.output();
  if (code !== 0) throw new Error(`benchmark of ${model} exited with ${code}`);
  return JSON.parse(new TextDecoder().decode(stdout));
}

function report(m: CompileMeasurement): { line: string; ok: boolean } {
  const ratio = m.peakBytes / m.weightBytes;
  const ok = m.compileMs < 10_000 && ratio < 3;
  const passes = m.passMs.map(({ pass, ms }) => `${pass} ${ms.toFixed(0)}`).join(", ");
  const line = [
    `${m.model}: ${(m.parameters / 1e6).toFixed(1)}M parameters, ${
      (m.weightBytes / MB).toFixed(0)
    } MiB of weights`,
    `  compile ${(m.compileMs / 1000).toFixed(2)} s (target < 10 s); ` +
    `copying every weight once takes ${m.copyMs.toFixed(0)} ms, compile = ${
      (m.compileMs / m.copyMs).toFixed(1)
    }x that`,
    `  peak RSS ${(m.peakBytes / MB).toFixed(0)} MiB = ${
      ratio.toFixed(2)
    }x weight bytes (target < 3x); ` +
    `${(m.rssBeforeBytes / MB).toFixed(0)} MiB before compiling (runtime + training graph), ` +
    `so compiling added ${((m.peakBytes - m.rssBeforeBytes) / m.weightBytes).toFixed(2)}x`,
    `  build ${(m.buildMs / 1000).toFixed(2)} s; passes (ms): ${passes}`,
    `  ${ok ? "ok" : "TARGET MISSED"}`,
  ].join("\n");
  return { line, ok };
}

if (import.meta.main) {
  if (Deno.args[0] === "--child") {
    console.log(JSON.stringify(measureCompile(Deno.args[1])));
  } else if (Deno.args[0] === "--child-pth" || Deno.args[0] === "--child-onnx") {
    const path = Deno.args[0] === "--child-pth" ? "pth" : "onnx";
    console.log(JSON.stringify(await measurePath(path, Deno.args[1])));
  } else {
    // bench/mod.ts passes its flags on; --quick keeps the headline model only.
    const named = Deno.args.filter((arg) => !arg.startsWith("--"));
    const quick = Deno.args.includes("--quick");
    const models = named.length > 0
      ? named
      : quick
      ? ["repmlpnet-b224"]
      : ["repmlpnet-b224", "resnet50"];
    let failed = false;
    for (const model of models) {
      const { line, ok } = report(await measureInSubprocess(model));
      console.log(line);
      failed ||= !ok;
    }
    if (!quick && named.length === 0) {
      console.log("RepMLPNet-B224 from files, to the deployed graph:");
      failed ||= !(await compareCheckpointPaths());
    }
    if (failed) Deno.exit(1);
  }
}
