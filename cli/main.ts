/**
 * The compile driver: load, verify, deploy (the pass pipeline), emit, write.
 * Output goes to `io.out`, diagnostics to `io.err`; the caller maps a thrown
 * RefoldError to one line on stderr and a non-zero exit.
 */
import { formatArchList } from "../arch/mod.ts";
import { BACKENDS, type EmittedFile } from "../backends/mod.ts";
import type { WeightReport } from "../backends/mod.ts";
import { type PassReport, runPipeline } from "../compiler/mod.ts";
import { loadModelFile } from "../formats/mod.ts";
import { type Graph, printGraph, summarize, verifyGraph } from "../ir/mod.ts";
import { type CliOptions, USAGE } from "./args.ts";
import { loadCheckpointModel } from "./checkpoint.ts";
import { checkOutputDir, writeOutputDir } from "./output.ts";
import { CompileProgress, type StepTime } from "./progress.ts";
import {
  byteLength,
  formatBytes,
  formatPassReports,
  formatSummary,
  formatWeightReport,
  printable,
} from "./report.ts";
import { reportDocument } from "./report_html.ts";
import { pathInside, writeReport } from "./report_file.ts";

/** Where the driver writes text. */
export interface DriverIo {
  out(text: string): void;
  err(text: string): void;
  /** Shows a status line for long steps (a terminal's); absent: no progress is shown. */
  status?(line: string): void;
}

/** Runs one compilation as the CLI describes it. */
export async function runCompile(options: CliOptions, io: DriverIo): Promise<void> {
  if (options.help) {
    io.out(USAGE);
    return;
  }
  if (options.arch === "list") {
    io.out(formatArchList());
    return;
  }
  checkOutputDir(options.out, options.model);
  const progress = new CompileProgress(io.status && ((line) => io.status!(printable(line))));
  try {
    progress.start("read", `reading ${options.model}`);
    // Every file the compilation reads: --out must never replace one of them.
    const inputs: string[] = [];
    const fromCheckpoint = options.arch ? await loadCheckpointModel(options, inputs) : undefined;
    const training = fromCheckpoint?.graph ??
      await loadModelFile(options.model, {
        batch: options.batch,
        inputShapes: options.inputShapes,
        onFile: (path) => inputs.push(path),
      });
    verifyGraph(training, options.model);
    progress.start("passes");
    const { graph, reports } = runPipeline(training, {
      passes: fromCheckpoint ? fromCheckpoint.passes : options.passes,
      dumpAfter: options.dumpAfter,
      onDump: (pass, text) => io.out(`// after ${pass}\n${text}`),
      explain: options.explain,
      onExplain: (pass, message) => io.out(`explain ${pass}: ${message}`),
      verify: options.verify ? { tolerance: options.tolerance } : false,
      onProgress: progress.onPipeline,
    });
    progress.start("codegen", `generating ${options.target} code`);
    const emitted = await BACKENDS[options.target].emit(graph, {
      f16: options.f16,
      weightDType: options.weightDType,
      quantize: options.quantize,
      quantizeSkip: options.quantizeSkip,
      quantizeMinMacs: options.quantizeMinMacs,
      quantizeFirst: options.quantizeFirst,
    });
    const files: EmittedFile[] = [...emitted.files];
    if (options.emitIr) files.push({ path: "model.ir", contents: printGraph(graph) });
    const render = (steps: StepTime[]) =>
      reportDocument({
        model: options.model,
        target: options.target,
        training,
        deployed: graph,
        passes: reports,
        notes: emitted.notes,
        files: files.map((file) => ({ path: file.path, bytes: byteLength(file.contents) })),
        steps,
      });
    progress.start("write", `writing ${options.out}/`);
    // A report inside --out goes in with the other files, so that it is written all at once.
    const inside = options.report === undefined
      ? undefined
      : pathInside(options.out, options.report);
    if (inside) files.push({ path: inside, contents: render(progress.times()) });
    await writeOutputDir(options.out, files, { inputs });
    if (options.report && !inside) await writeReport(options.report, render(progress.times()));
    const steps = progress.done();
    printSummary(io, options, {
      training,
      graph,
      reports,
      notes: [...(fromCheckpoint?.notes ?? [])],
      targetNotes: emitted.notes,
      weights: emitted.weights,
      files,
      steps,
    });
  } finally {
    progress.done();
  }
}

/** The final report on stdout. */
function printSummary(
  io: DriverIo,
  options: CliOptions,
  result: {
    training: Graph;
    graph: Graph;
    reports: readonly PassReport[];
    /** Lines about the input (a checkpoint's format and layout). */
    notes: readonly string[];
    targetNotes: readonly string[];
    weights?: WeightReport;
    files: readonly EmittedFile[];
    steps: readonly StepTime[];
  },
): void {
  const shapes = result.training.inputs.map((input) => `${input.attrs.name} [${input.type.shape}]`);
  io.out(printable(`${options.model}: ${result.training.name} (inputs ${shapes.join(", ")})`));
  for (const note of result.notes) io.out(printable(`  ${note}`));
  io.out(formatSummary(summarize(result.training), summarize(result.graph)));
  if (result.reports.length > 0) io.out(`passes:\n${formatPassReports(result.reports)}`);
  for (const note of result.targetNotes) io.out(`  ${options.target}: ${note}`);
  if (result.weights) io.out(formatWeightReport(result.weights));
  const sizes = result.files.map((file) =>
    `${file.path} ${formatBytes(byteLength(file.contents))}`
  );
  io.out(`wrote ${options.out.replace(/(.)\/+$/, "$1")}/ (${sizes.join(", ")})`);
  if (options.report) io.out(`report: ${options.report}`);
  io.out(`time: ${result.steps.map((s) => `${s.step} ${(s.ms / 1000).toFixed(2)} s`).join(", ")}`);
}
