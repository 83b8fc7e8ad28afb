/**
 * The compile report as HTML: parameters, FLOPs and weight bytes before and
 * after, the per-pass table (changed, time, verified error), the training-time
 * and deployed graphs drawn as SVG, and what the target wrote. `compile.ts
 * --report FILE` writes reportDocument; the demo page embeds reportSections.
 * Everything from the model is escaped; the report runs no script.
 */
import type { PassReport } from "../compiler/mod.ts";
import { type Graph, type GraphSummary, summarize } from "../ir/mod.ts";
import { escapeXml, graphSvg, REPORT_GRAPH_CSS } from "./graph_svg.ts";
import { formatBytes } from "./report.ts";

/** What a report shows. */
export interface CompileReport {
  /** The model file, as the user named it. */
  readonly model: string;
  readonly target: string;
  readonly training: Graph;
  readonly deployed: Graph;
  readonly passes: readonly PassReport[];
  /** The target's notes (kernels, weights placement, ...). */
  readonly notes: readonly string[];
  readonly files: readonly { readonly path: string; readonly bytes: number }[];
  /** Wall time of each step of the compile. */
  readonly steps?: readonly { readonly step: string; readonly ms: number }[];
}

/** The report's CSS (scoped under .refold-report). */
export const REPORT_CSS = `
.refold-report { font: 14px/1.45 ui-sans-serif, system-ui, sans-serif; color: #0f172a; }
.refold-report h2 { font-size: 17px; margin: 22px 0 8px; }
.refold-report table { border-collapse: collapse; margin: 4px 0 8px; }
.refold-report th, .refold-report td { padding: 4px 12px; border-bottom: 1px solid #e2e8f0; text-align: right; }
.refold-report th:first-child, .refold-report td:first-child { text-align: left; }
.refold-report thead th { background: #f1f5f9; font-weight: 600; }
.refold-report td.changed { color: #15803d; font-weight: 600; }
.refold-report td.same { color: #94a3b8; }
.refold-report .ops { color: #475569; font-size: 13px; margin: 2px 0; }
.refold-report .graphs { display: flex; gap: 16px; align-items: flex-start; flex-wrap: wrap; }
.refold-report figure { margin: 0; border: 1px solid #e2e8f0; border-radius: 8px; background: #fff; }
.refold-report figcaption { padding: 6px 10px; border-bottom: 1px solid #e2e8f0; font-weight: 600; }
.refold-report figure .scroll { max-height: 720px; overflow: auto; }
.refold-report ul { margin: 4px 0; padding-left: 20px; }
${REPORT_GRAPH_CSS}`;

const count = (value: number) => value.toLocaleString("en-US");

/** "0.31×" or "+12%": how the deployed count relates to the training one. */
function change(before: number, after: number): string {
  if (before === 0) return after === 0 ? "" : "new";
  const ratio = after / before;
  if (ratio === 1) return "same";
  return ratio < 0.995 || ratio > 1.005
    ? `${ratio.toFixed(ratio < 0.1 ? 3 : 2)}×`
    : `${ratio > 1 ? "+" : "−"}${Math.abs((ratio - 1) * 100).toFixed(2)}%`;
}

function opsLine(summary: GraphSummary): string {
  return Object.entries(summary.ops).sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([op, n]) => `${escapeXml(op)} ${n}`).join(", ");
}

function summaryTable(before: GraphSummary, after: GraphSummary): string {
  const opTotal = (s: GraphSummary) => Object.values(s.ops).reduce((a, n) => a + n, 0);
  const rows: [string, number, number, (n: number) => string][] = [
    ["parameters", before.parameters, after.parameters, count],
    ["FLOPs", before.flops, after.flops, count],
    ["weight bytes", before.weightBytes, after.weightBytes, formatBytes],
    ["ops", opTotal(before), opTotal(after), count],
  ];
  return [
    `<table class="summary"><thead><tr><th></th><th>training</th><th>deployed</th><th>change</th></tr></thead><tbody>`,
    ...rows.map(([name, a, b, show]) =>
      `<tr><td>${name}</td><td>${show(a)}</td><td>${show(b)}</td><td>${change(a, b)}</td></tr>`
    ),
    `</tbody></table>`,
    `<p class="ops">training ops: ${opsLine(before)}</p>`,
    `<p class="ops">deployed ops: ${opsLine(after)}</p>`,
  ].join("\n");
}

const exponent = (value: number | undefined) => value === undefined ? "—" : value.toExponential(2);

function passTable(passes: readonly PassReport[]): string {
  if (passes.length === 0) return "<p>No passes ran.</p>";
  const verified = passes.some((pass) => pass.maxRelError !== undefined);
  return [
    `<table class="passes"><thead><tr><th>pass</th><th>changed</th><th>time</th>`,
    `<th>max abs error</th><th>max rel error</th></tr></thead><tbody>`,
    ...passes.map((pass) =>
      `<tr><td>${escapeXml(pass.pass)}</td>` +
      `<td class="${pass.changed ? "changed" : "same"}">${pass.changed ? "yes" : "no"}</td>` +
      `<td>${pass.ms.toFixed(1)} ms</td><td>${exponent(pass.maxAbsError)}</td>` +
      `<td>${exponent(pass.maxRelError)}</td></tr>`
    ),
    `</tbody></table>`,
    verified
      ? '<p class="ops">Errors: float64 interpreter on seeded inputs, after vs before each pass.</p>'
      : '<p class="ops">Not verified (compile with --verify to check every pass numerically).</p>',
  ].join("\n");
}

function figure(title: string, graph: Graph, id: string): string {
  return `<figure><figcaption>${escapeXml(title)}</figcaption><div class="scroll">${
    graphSvg(graph, { id })
  }</div></figure>`;
}

/** The report's sections, for embedding in a page that includes REPORT_CSS. */
export function reportSections(report: CompileReport, id = "report"): string {
  const before = summarize(report.training), after = summarize(report.deployed);
  const steps = report.steps ?? [];
  return [
    `<section class="refold-report" id="${escapeXml(id)}">`,
    `<h2>Model</h2>`,
    `<p><code>${escapeXml(report.model)}</code>: graph <b>${
      escapeXml(report.training.name)
    }</b>, inputs ${
      escapeXml(
        report.training.inputs.map((input) => `${input.attrs.name} [${input.type.shape}]`)
          .join(", "),
      )
    }, target <b>${escapeXml(report.target)}</b></p>`,
    summaryTable(before, after),
    `<h2>Passes</h2>`,
    passTable(report.passes),
    `<h2>Graphs</h2>`,
    `<div class="graphs">`,
    figure("training-time", report.training, `${id}-training`),
    figure("deployed", report.deployed, `${id}-deployed`),
    `</div>`,
    `<h2>Output</h2>`,
    `<ul>`,
    ...report.notes.map((note) => `<li>${escapeXml(note)}</li>`),
    `</ul>`,
    `<p class="ops">files: ${
      report.files.map((file) => `<code>${escapeXml(file.path)}</code> ${formatBytes(file.bytes)}`)
        .join(" · ")
    }</p>`,
    ...(steps.length === 0 ? [] : [
      `<p class="ops">compile time: ${
        steps.map((s) => `${escapeXml(s.step)} ${(s.ms / 1000).toFixed(2)} s`).join(", ")
      }</p>`,
    ]),
    `</section>`,
  ].join("\n");
}

/** A standalone HTML page of the report. */
export function reportDocument(report: CompileReport): string {
  return [
    "<!doctype html>",
    `<html lang="en"><head><meta charset="utf-8">`,
    `<title>refold report: ${escapeXml(report.training.name)}</title>`,
    `<style>body { margin: 24px; background: #f8fafc; }${REPORT_CSS}</style></head>`,
    `<body><h1 style="font: 600 22px system-ui, sans-serif">refold compile report</h1>`,
    reportSections(report),
    "</body></html>",
    "",
  ].join("\n");
}
