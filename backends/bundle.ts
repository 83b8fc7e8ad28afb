/**
 * Bundles a generated entry module and the runtime glue it imports into one
 * self-contained ES module with esbuild, so model.js needs no runtime library.
 * Every target bundles here; they differ only in their entry and banner.
 */
// deno-lint-ignore no-import-prefix -- versioned here so that refold runs outside its checkout (docs/cli.md)
import * as esbuild from "npm:esbuild@0.28.2";
import { fileURLToPath } from "node:url";
import { RefoldError } from "../ir/mod.ts";

/** Options of bundleModule. */
export interface BundleOptions {
  /** Minify model.js (default false: the generated module stays readable). */
  readonly minify?: boolean;
  /** Comment lines that open model.js, e.g. a target header or `// @ts-self-types`. */
  readonly banner?: string;
}

/** Bundles `entrySource` (TypeScript, importing runtime files through `runtimeImport`). */
export async function bundleModule(
  entrySource: string,
  options: BundleOptions = {},
): Promise<string> {
  try {
    const result = await esbuild.build({
      stdin: {
        contents: entrySource,
        loader: "ts",
        resolveDir: fileURLToPath(new URL(".", import.meta.url)),
      },
      bundle: true,
      format: "esm",
      // Neutral: model.js must run unchanged in Deno, Node and browsers.
      platform: "neutral",
      target: "es2022",
      write: false,
      minify: options.minify ?? false,
      legalComments: "none",
      ...(options.banner === undefined ? {} : { banner: { js: options.banner } }),
      // No externals: model.js must bundle for browsers as it is (runtime/files.ts reaches
      // Node's fs only through runtime checks that no bundler resolves).
      logLevel: "silent",
    });
    return result.outputFiles[0].text;
  } catch (error) {
    throw new RefoldError(
      `bundling model.js failed: ${error instanceof Error ? error.message : error}`,
    );
  } finally {
    await esbuild.stop();
  }
}

/** An import specifier for a runtime file of this repository, for generated entries. */
export function runtimeImport(relativeToBackends: string): string {
  return JSON.stringify(fileURLToPath(new URL(relativeToBackends, import.meta.url)));
}
