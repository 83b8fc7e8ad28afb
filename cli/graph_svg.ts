/**
 * Draws a laid-out graph as SVG: a box per op (or block) with its name and
 * shape, and a curved arrow per edge. Every text from the model goes through
 * escapeXml; the SVG carries no script. Styling comes from classes that
 * REPORT_GRAPH_CSS defines, so the same SVG suits a page and a file.
 */
import type { Graph } from "../ir/mod.ts";
import { BOX, layoutGraph } from "./graph_layout.ts";

/** Text made safe for XML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`)
    // Control characters are not allowed in XML 1.0 at all.
    // deno-lint-ignore no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "\ufffd");
}

/** Families of ops, by the colour they get. */
const FAMILY: Record<string, string> = {
  conv2d: "conv",
  linear: "linear",
  batchnorm: "norm",
  avgpool: "pool",
  maxpool: "pool",
  global_avgpool: "pool",
  reshape: "view",
  transpose: "view",
  flatten: "view",
  concat: "view",
  relu: "act",
  sigmoid: "act",
  gelu: "act",
  erf: "act",
  add: "math",
  sub: "math",
  mul: "math",
  div: "math",
  block: "block",
  input: "port",
  output: "port",
};

/** The CSS the graph SVGs rely on. */
export const REPORT_GRAPH_CSS = `
svg.graph { font: 12px ui-sans-serif, system-ui, sans-serif; }
svg.graph .edge { fill: none; stroke: #94a3b8; stroke-width: 1.3; }
svg.graph .box rect { stroke-width: 1.2; }
svg.graph .box .detail { fill: #475569; font-size: 11px; }
svg.graph .box .label { font-weight: 600; fill: #0f172a; }
svg.graph .conv rect { fill: #dbeafe; stroke: #3b82f6; }
svg.graph .linear rect { fill: #ede9fe; stroke: #8b5cf6; }
svg.graph .norm rect { fill: #ffedd5; stroke: #f97316; }
svg.graph .pool rect { fill: #dcfce7; stroke: #22c55e; }
svg.graph .view rect { fill: #f1f5f9; stroke: #94a3b8; }
svg.graph .act rect { fill: #fef9c3; stroke: #eab308; }
svg.graph .math rect { fill: #f8fafc; stroke: #64748b; }
svg.graph .block rect { fill: #e0f2fe; stroke: #0284c7; }
svg.graph .port rect { fill: #1e293b; stroke: #1e293b; }
svg.graph .port .label, svg.graph .port .detail { fill: #f8fafc; }
`;

/** Shortens text to fit a box, marking the cut. */
function fit(text: string, chars: number): string {
  return text.length <= chars ? text : `${text.slice(0, chars - 1)}…`;
}

/** The graph as an SVG element; `id` keeps its marker apart from other SVGs on a page. */
export function graphSvg(graph: Graph, options: { id: string; maxBoxes?: number }): string {
  const layout = layoutGraph(graph, { maxBoxes: options.maxBoxes });
  const id = options.id.replace(/[^A-Za-z0-9_-]/g, "_");
  const half = BOX.height / 2;
  const edges = layout.edges.map(([from, to]) => {
    const a = layout.boxes[from], b = layout.boxes[to];
    const y1 = a.y + half, y2 = b.y - half - 3;
    // An edge past several layers runs straight down from its source (beside the boxes of
    // a centred chain, since its source sits off-centre) and bends in over the last gap.
    const pitch = BOX.height + BOX.gapY;
    const straight = y2 - y1 > 1.5 * pitch ? y2 - pitch : y1;
    const bend = Math.max(12, (y2 - straight) / 2);
    const line = straight > y1 ? `L${a.x} ${straight}` : "";
    return `<path class="edge" marker-end="url(#${id}-arrow)" d="M${a.x} ${y1}${line}C${a.x} ${
      straight + bend
    } ${b.x} ${y2 - bend} ${b.x} ${y2}"/>`;
  });
  const boxes = layout.boxes.map((box) => {
    const family = FAMILY[box.kind] ?? "math";
    return [
      `<g class="box ${family}"><title>${escapeXml(box.title)}</title>`,
      `<rect x="${box.x - BOX.width / 2}" y="${
        box.y - half
      }" width="${BOX.width}" height="${BOX.height}" rx="6"/>`,
      `<text class="label" x="${box.x}" y="${box.y - 3}" text-anchor="middle">${
        escapeXml(fit(box.label, 24))
      }</text>`,
      `<text class="detail" x="${box.x}" y="${box.y + 12}" text-anchor="middle">${
        escapeXml(fit(box.detail, 28))
      }</text></g>`,
    ].join("");
  });
  const { width, height } = layout;
  return [
    `<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${
      escapeXml(`${graph.name}: ${layout.boxes.length} ${layout.collapsed ? "blocks" : "ops"}`)
    }" data-collapsed="${layout.collapsed}">`,
    `<defs><marker id="${id}-arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto"><path d="M0 0L8 4L0 8z" fill="#94a3b8"/></marker></defs>`,
    ...edges,
    ...boxes,
    "</svg>",
  ].join("\n");
}
