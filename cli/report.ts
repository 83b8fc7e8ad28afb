/**
 * The CLI's summary: ops, parameters, FLOPs and weight bytes before and after
 * the pipeline, then one line per pass (with --verify's errors).
 */
import type { WeightReport } from "../backends/mod.ts";
import type { PassReport } from "../compiler/mod.ts";
import type { GraphSummary } from "../ir/mod.ts";

function count(value: number): string {
  return value.toLocaleString("en-US");
}

function bytes(value: number): string {
  if (value < 1024) return `${value} B`;
  if (value < 1024 ** 2) return `${(value / 1024).toFixed(1)} KiB`;
  if (value < 1024 ** 3) return `${(value / 1024 ** 2).toFixed(1)} MiB`;
  return `${(value / 1024 ** 3).toFixed(2)} GiB`;
}

function opsLine(summary: GraphSummary): string {
  return Object.entries(summary.ops).sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([op, n]) => `${op} ${n}`).join(", ");
}

/** The before/after table. */
export function formatSummary(before: GraphSummary, after: GraphSummary): string {
  const rows: [string, string, string][] = [
    ["", "training", "deployed"],
    ["parameters", count(before.parameters), count(after.parameters)],
    ["FLOPs", count(before.flops), count(after.flops)],
    ["weight bytes", bytes(before.weightBytes), bytes(after.weightBytes)],
  ];
  const widths = [0, 1, 2].map((col) => Math.max(...rows.map((row) => row[col].length)));
  const table = rows.map(([a, b, c]) =>
    `  ${a.padEnd(widths[0])}  ${b.padStart(widths[1])}  ${c.padStart(widths[2])}`
  );
  return [
    ...table,
    `  ops before: ${opsLine(before)}`,
    `  ops after:  ${opsLine(after)}`,
  ].join("\n");
}

/** One line per pass. */
export function formatPassReports(reports: readonly PassReport[]): string {
  return reports.map((report) => {
    const verified = report.maxRelError === undefined
      ? ""
      : `  max abs ${report.maxAbsError!.toExponential(2)}  max rel ${
        report.maxRelError.toExponential(2)
      }  since training ${report.totalRelError!.toExponential(2)}`;
    const status = report.changed ? "changed" : "unchanged";
    return `  ${report.pass.padEnd(22)} ${status.padEnd(9)} ${
      report.ms.toFixed(0).padStart(6)
    } ms${verified}`;
  }).join("\n");
}

/** The stored weights: bytes, against f32, and the worst relative error of storing them so. */
export function formatWeightReport(report: WeightReport): string {
  const { weight, channel, channels, error } = report.error;
  const at = channels > 1 ? `, output channel ${channel} of ${channels}` : "";
  const where = weight === "" ? "" : ` (${printable(weight)}${at})`;
  const ratio = report.bytes > 0 ? (report.f32Bytes / report.bytes).toFixed(2) : "1.00";
  return `  weights: ${report.dtypes.join(" + ")}, ${bytes(report.bytes)} stored ` +
    `(${bytes(report.f32Bytes)} as f32, ${ratio}x smaller); worst relative weight error ` +
    `${error.toExponential(2)}${where}`;
}

/**
 * Text from the model (names) made safe for a terminal, on one line: newlines
 * become spaces, other control characters \u escapes.
 */
export function printable(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").replace(
    /[\p{Cc}\u2028\u2029]/gu,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Human-readable byte counts for file listings. */
export { bytes as formatBytes };

/** Bytes of an emitted file's contents. */
export function byteLength(contents: string | Uint8Array): number {
  return typeof contents === "string"
    ? new TextEncoder().encode(contents).byteLength
    : contents.byteLength;
}
