/**
 * `deno task serve [--port N] [--out DIR]`: compiles the demo models for the
 * js, wasm and webgpu targets and serves the demo page, cross-origin isolated
 * so that the wasm model can run on several threads. Open the printed URL in
 * a browser; WebGPU needs one that has it (Chrome, Edge; Chromium on Linux
 * with --enable-unsafe-webgpu).
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { buildDemo } from "./demo_build.ts";
import { demoPage } from "./demo_page.ts";
import { type FileServer, serveDirectory } from "./server.ts";

/** Options of startDemo. */
export interface DemoOptions {
  /** Where the compiled models go (replaced); default out/web. */
  readonly site?: string;
  /** Port; 0 picks a free one. */
  readonly port?: number;
  /** Told which model is being compiled. */
  readonly log?: (line: string) => void;
}

/** Builds the site and starts serving it. */
export async function startDemo(options: DemoOptions = {}): Promise<FileServer> {
  const site = resolve(options.site ?? "out/web");
  const built = await buildDemo(site, (model) => options.log?.(`compiling ${model.source}`));
  await Deno.writeTextFile(join(site, "index.html"), demoPage(built));
  await Deno.copyFile(new URL("./page/demo.js", import.meta.url), join(site, "demo.js"));
  return serveDirectory(site, { port: options.port ?? 0 });
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { port: { type: "string", default: "8000" }, out: { type: "string" } },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`refold serve: --port must be 0 to 65535, got "${values.port}"`);
    Deno.exit(1);
  }
  const server = await startDemo({ port, site: values.out, log: (line) => console.log(line) });
  console.log(`refold demo: ${server.url}  (Ctrl-C stops it)`);
}
