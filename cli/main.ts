/**
 * The compile driver: load, verify, deploy (the pass pipeline), emit, write.
 * Output goes to `io.out`, diagnostics to `io.err`; the caller maps a thrown
 * RefoldError to one line on stderr and a non-zero exit.
 */
import { BACKENDS, type EmittedFile } from "../backends/mod.ts";
import { runPipeline } from "../compiler/mod.ts";
import { loadModelFile } from "../formats/mod.ts";
import { printGraph, summarize, verifyGraph } from "../ir/mod.ts";
import { type CliOptions, USAGE } from "./args.ts";
import { checkOutputDir, writeOutputDir } from "./output.ts";
import {
  formatBytes,
  formatPassReports,
  formatSummary,
  formatWeightReport,
  printable,
} from "./report.ts";

/** Where the driver writes text. */
export interface DriverIo {
  out(text: string): void;
  err(text: string): void;
}

/** Runs one compilation as the CLI describes it. */
export async function runCompile(options: CliOptions, io: DriverIo): Promise<void> {
  if (options.help) {
    io.out(USAGE);
    return;
  }
  checkOutputDir(options.out, options.model);
  const training = await loadModelFile(options.model, { batch: options.batch });
  verifyGraph(training, options.model);
  const { graph, reports } = runPipeline(training, {
    passes: options.passes,
    dumpAfter: options.dumpAfter,
    onDump: (pass, text) => io.out(`// after ${pass}\n${text}`),
    explain: options.explain,
    onExplain: (pass, message) => io.out(`explain ${pass}: ${message}`),
    verify: options.verify ? { tolerance: options.tolerance } : false,
  });
  const backend = BACKENDS[options.target];
  const emitted = await backend.emit(graph, {
    f16: options.f16,
    weightDType: options.weightDType,
    quantize: options.quantize,
    quantizeSkip: options.quantizeSkip,
    quantizeMinMacs: options.quantizeMinMacs,
    quantizeFirst: options.quantizeFirst,
  });
  const files: EmittedFile[] = [...emitted.files];
  if (options.emitIr) files.push({ path: "model.ir", contents: printGraph(graph) });
  await writeOutputDir(options.out, files);

  io.out(printable(`${options.model}: ${training.name} (batch ${options.batch})`));
  io.out(formatSummary(summarize(training), summarize(graph)));
  if (reports.length > 0) io.out(`passes:\n${formatPassReports(reports)}`);
  for (const note of emitted.notes) io.out(`  ${options.target}: ${note}`);
  if (emitted.weights) io.out(formatWeightReport(emitted.weights));
  const sizes = files.map((file) =>
    `${file.path} ${
      formatBytes(
        typeof file.contents === "string" ? file.contents.length : file.contents.byteLength,
      )
    }`
  );
  io.out(`wrote ${options.out}/ (${sizes.join(", ")})`);
}
