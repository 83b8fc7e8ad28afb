/**
 * The demo page's HTML: a tab per model, a card per target (progress bar,
 * latency, output, error against the float64 reference), filled in by
 * page/demo.js, and the compile report of each model below its cards.
 */
import { escapeXml } from "../cli/graph_svg.ts";
import { REPORT_CSS, reportSections } from "../cli/report_html.ts";
import { type BuiltModel, DEMO_TARGETS } from "./demo_build.ts";

const TARGET_BLURB: Record<string, string> = {
  js: "plain JavaScript, float32",
  wasm: "WebAssembly SIMD",
  webgpu: "WGSL compute shaders",
};

function card(target: string): string {
  return `<article class="target" data-target="${target}" data-state="idle">
  <header><h3>${target}</h3><span class="blurb">${TARGET_BLURB[target]}</span></header>
  <div class="bar"><div class="fill"></div></div>
  <p class="status">waiting</p>
  <dl>
    <dt>load</dt><dd class="load">—</dd>
    <dt>latency</dt><dd class="latency">—</dd>
    <dt>runs on</dt><dd class="engine">—</dd>
    <dt>vs float64</dt><dd class="error">—</dd>
  </dl>
  <pre class="output"></pre>
</article>`;
}

function modelSection(built: BuiltModel, index: number): string {
  const { model } = built;
  const report = {
    ...built.report,
    target: DEMO_TARGETS.join(", "),
    notes: DEMO_TARGETS.flatMap((t) => built.targets[t].notes.map((note) => `${t}: ${note}`)),
    files: DEMO_TARGETS.flatMap((t) => built.targets[t].files),
  };
  return `<section class="model" data-model="${escapeXml(model.name)}"${index > 0 ? " hidden" : ""}
  data-input="${escapeXml(JSON.stringify(built.input))}">
<p class="input">input <code>${escapeXml(built.input.name)}</code> float32[${
    built.input.shape.join(", ")
  }], seeded uniform in [-1, 1)</p>
<div class="targets">${DEMO_TARGETS.map(card).join("\n")}</div>
<h2 class="report-title">Compile report</h2>
${reportSections(report, `report-${model.name}`)}
</section>`;
}

const PAGE_CSS = `
body { margin: 0; background: #f8fafc; color: #0f172a; font: 14px/1.45 ui-sans-serif, system-ui, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 20px 24px 40px; }
h1 { font-size: 22px; margin: 0 0 2px; }
.sub { color: #475569; margin: 0 0 16px; }
nav { display: flex; gap: 8px; margin-bottom: 12px; }
nav button { border: 1px solid #cbd5e1; background: #fff; border-radius: 999px; padding: 6px 14px; font: inherit; cursor: pointer; }
nav button[aria-selected=true] { background: #0f172a; color: #fff; border-color: #0f172a; }
.controls { display: flex; gap: 16px; align-items: center; margin-bottom: 12px; color: #334155; flex-wrap: wrap; }
.controls select, .controls button { font: inherit; padding: 4px 10px; border-radius: 6px; border: 1px solid #cbd5e1; background: #fff; }
.controls .env { color: #64748b; }
.input { color: #475569; margin: 0 0 10px; }
.targets { display: grid; grid-template-columns: repeat(3, 1fr); gap: 14px; }
.target { background: #fff; border: 1px solid #e2e8f0; border-radius: 10px; padding: 12px 14px; box-shadow: 0 1px 2px #0f172a0d; }
.target header { display: flex; align-items: baseline; gap: 8px; }
.target h3 { margin: 0; font-size: 18px; }
.target .blurb { color: #64748b; font-size: 13px; }
.bar { height: 6px; background: #e2e8f0; border-radius: 3px; margin: 10px 0 4px; overflow: hidden; }
.bar .fill { height: 100%; width: 0; background: #3b82f6; transition: width .1s; }
.target[data-state=done] .bar .fill { background: #22c55e; }
.target[data-state=error] .bar .fill { background: #ef4444; width: 100%; }
.status { margin: 0 0 8px; color: #475569; font-size: 13px; min-height: 18px; }
.target[data-state=error] .status { color: #b91c1c; }
dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 12px; margin: 0 0 8px; }
dt { color: #64748b; }
dd { margin: 0; font-variant-numeric: tabular-nums; }
dd.latency { font-size: 20px; font-weight: 700; color: #0f172a; }
pre.output { margin: 0; background: #f1f5f9; border-radius: 6px; padding: 6px 8px; font-size: 12px; white-space: pre-wrap; min-height: 34px; }
.report-title { margin: 28px 0 0; font-size: 20px; }
`;

/** The whole page. */
export function demoPage(models: readonly BuiltModel[]): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>refold demo</title>
<link rel="icon" href="data:,">
<style>${PAGE_CSS}${REPORT_CSS}</style></head>
<body data-state="loading"><main>
<h1>refold</h1>
<p class="sub">Training-time re-parameterized models, compiled to deployed ES modules and run here, in this page.</p>
<nav>${
    models.map((built, i) =>
      `<button data-model="${escapeXml(built.model.name)}" aria-selected="${i === 0}">${
        escapeXml(built.model.title)
      }</button>`
    ).join("")
  }</nav>
<div class="controls">
  <label>wasm threads <select id="threads"></select></label>
  <button id="rerun">Run again</button>
  <span class="env" id="env"></span>
</div>
${models.map(modelSection).join("\n")}
</main>
<script type="module" src="demo.js"></script>
</body></html>
`;
}
