/**
 * The compile driver: load, verify, deploy (the pass pipeline), emit, write.
 * Output goes to `io.out`, diagnostics to `io.err`; the caller maps a thrown
 * RefoldError to one line on stderr and a non-zero exit.
 */
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import { BACKENDS, type EmittedFile } from "../backends/mod.ts";
import { type PassReport, runPipeline } from "../compiler/mod.ts";
import { loadModelFile } from "../formats/mod.ts";
import { type Graph, printGraph, RefoldError, summarize, verifyGraph } from "../ir/mod.ts";
import { type CliOptions, USAGE } from "./args.ts";
import { checkOutputDir, writeOutputDir } from "./output.ts";
import { CompileProgress, type StepTime } from "./progress.ts";
import { formatBytes, formatPassReports, formatSummary, printable } from "./report.ts";
import { reportDocument } from "./report_html.ts";

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
  checkOutputDir(options.out, options.model);
  const progress = new CompileProgress(io.status && ((line) => io.status!(printable(line))));
  let steps: StepTime[];
  try {
    progress.start("read", `reading ${options.model}`);
    const training = await loadModelFile(options.model, {
      batch: options.batch,
      inputShapes: options.inputShapes,
    });
    verifyGraph(training, options.model);
    progress.start("passes");
    const { graph, reports } = runPipeline(training, {
      passes: options.passes,
      dumpAfter: options.dumpAfter,
      onDump: (pass, text) => io.out(`// after ${pass}\n${text}`),
      explain: options.explain,
      onExplain: (pass, message) => io.out(`explain ${pass}: ${message}`),
      verify: options.verify ? { tolerance: options.tolerance } : false,
      onProgress: progress.onPipeline,
    });
    progress.start("codegen", `generating ${options.target} code`);
    const backend = BACKENDS[options.target];
    const emitted = await backend.emit(graph, { f16: options.f16 });
    const files: EmittedFile[] = [...emitted.files];
    if (options.emitIr) files.push({ path: "model.ir", contents: printGraph(graph) });
    const report = options.report === undefined ? undefined : {
      path: options.report,
      render: (times: StepTime[]) =>
        reportDocument({
          model: options.model,
          target: options.target,
          batch: options.batch,
          training,
          deployed: graph,
          passes: reports,
          notes: emitted.notes,
          files: files.map((file) => ({ path: file.path, bytes: byteLength(file.contents) })),
          steps: times,
        }),
    };
    progress.start("write", `writing ${options.out}/`);
    // A report inside --out goes in with the other files, so that it is written all at once.
    const inside = report && pathInside(options.out, report.path);
    if (report && inside) files.push({ path: inside, contents: report.render(progress.times()) });
    await writeOutputDir(options.out, files);
    if (report && !inside) await writeReport(report.path, report.render(progress.times()));
    steps = progress.done();
    printSummary(io, options, { training, graph, reports, notes: emitted.notes, files, steps });
  } finally {
    progress.done();
  }
}

/** Bytes of an emitted file. */
function byteLength(contents: string | Uint8Array): number {
  return typeof contents === "string"
    ? new TextEncoder().encode(contents).byteLength
    : contents.byteLength;
}

/** `file` relative to `dir` when it lies inside it, else undefined. */
function pathInside(dir: string, file: string): string | undefined {
  const inside = relative(resolve(dir), resolve(file));
  return inside === "" || isAbsolute(inside) || inside.split(sep)[0] === ".." ? undefined : inside;
}

async function writeReport(path: string, html: string): Promise<void> {
  try {
    await Deno.mkdir(dirname(resolve(path)), { recursive: true });
    await Deno.writeTextFile(path, html);
  } catch (error) {
    throw new RefoldError(`--report ${path}: ${error instanceof Error ? error.message : error}`);
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
    notes: readonly string[];
    files: readonly EmittedFile[];
    steps: readonly StepTime[];
  },
): void {
  io.out(printable(`${options.model}: ${result.training.name} (batch ${options.batch})`));
  io.out(formatSummary(summarize(result.training), summarize(result.graph)));
  if (result.reports.length > 0) io.out(`passes:\n${formatPassReports(result.reports)}`);
  for (const note of result.notes) io.out(`  ${options.target}: ${note}`);
  const sizes = result.files.map((file) =>
    `${file.path} ${formatBytes(byteLength(file.contents))}`
  );
  io.out(`wrote ${options.out.replace(/(.)\/+$/, "$1")}/ (${sizes.join(", ")})`);
  if (options.report) io.out(`report: ${options.report}`);
  io.out(`time: ${result.steps.map((s) => `${s.step} ${(s.ms / 1000).toFixed(2)} s`).join(", ")}`);
}
