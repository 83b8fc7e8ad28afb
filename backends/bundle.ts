/**
 * Bundles a generated entry module and the runtime glue it imports into one
 * self-contained ES module with esbuild, so model.js needs no runtime library.
 */
import * as esbuild from "esbuild";
import { RefoldError } from "../ir/mod.ts";

/** Bundles `entrySource` (TypeScript, importing runtime files by absolute path). */
export async function bundleModule(entrySource: string, options: { minify?: boolean } = {}) {
  try {
    const result = await esbuild.build({
      stdin: {
        contents: entrySource,
        loader: "ts",
        resolveDir: new URL(".", import.meta.url).pathname,
      },
      bundle: true,
      format: "esm",
      platform: "neutral",
      target: "es2022",
      write: false,
      minify: options.minify ?? false,
      legalComments: "none",
      external: ["node:fs/promises"],
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
  return JSON.stringify(new URL(relativeToBackends, import.meta.url).pathname);
}
