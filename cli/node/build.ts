/**
 * `deno task build:node`: builds dist/refold.mjs, refold's CLI as one file
 * for Node >= 18 (`node dist/refold.mjs model.onnx --target wasm --out out/`).
 * esbuild bundles compile.ts with its npm dependencies; backends/bundle.ts,
 * which runs esbuild's native binary, is swapped for cli/node/link.ts, and the
 * runtime glue it links into model.js is bundled here, ahead of time.
 */
import * as esbuild from "esbuild";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BACKENDS = join(ROOT, "backends");

/** Every runtime file the backends' generated entries import (by runtimeImport("./...")). */
async function runtimeFiles(): Promise<string[]> {
  const found = new Set<string>();
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (entry.name.endsWith(".ts")) {
        const text = await Deno.readTextFile(path);
        for (const [, file] of text.matchAll(/runtimeImport\("(\.\/[^"]+)"\)/g)) found.add(file);
      }
    }
  };
  await walk(BACKENDS);
  return [...found].sort();
}

/** Each runtime bundled into a self-contained ES module, as backends/bundle.ts would inline it. */
async function prebundleRuntimes(): Promise<Record<string, string>> {
  const runtimes: Record<string, string> = {};
  for (const file of await runtimeFiles()) {
    const result = await esbuild.build({
      stdin: {
        contents: `export * from ${JSON.stringify(join(BACKENDS, file))};`,
        loader: "ts",
        resolveDir: BACKENDS,
      },
      bundle: true,
      format: "esm",
      platform: "neutral",
      target: "es2022",
      write: false,
      legalComments: "none",
      logLevel: "silent",
    });
    runtimes[file] = result.outputFiles[0].text;
  }
  return runtimes;
}

/**
 * Replaces backends/bundle.ts with the linker, and resolves the library's
 * `npm:name@version` imports from the checkout's node_modules (which deno.json
 * pins to the same versions).
 */
const swapBundler: esbuild.Plugin = {
  name: "refold-node-bundler",
  setup(build) {
    build.onResolve({ filter: /^npm:/ }, async (args) => {
      const name = /^npm:((?:@[^/@]+\/)?[^/@]+)(?:@[^/]+)?(\/.*)?$/.exec(args.path)!;
      const resolved = await build.resolve(name[1] + (name[2] ?? ""), {
        kind: args.kind,
        resolveDir: ROOT,
      });
      return resolved.errors.length > 0 ? { errors: resolved.errors } : { path: resolved.path };
    });
    build.onResolve({ filter: /\/bundle\.ts$/ }, (args) => {
      const path = join(args.resolveDir, args.path);
      return relative(ROOT, path) === join("backends", "bundle.ts")
        ? { path: join(ROOT, "cli", "node", "link.ts") }
        : undefined;
    });
  },
};

/** Builds the CLI into `outfile`; resolves to its size in bytes. */
export async function buildNodeCli(outfile = join(ROOT, "dist", "refold.mjs")): Promise<number> {
  try {
    const runtimes = await prebundleRuntimes();
    await Deno.mkdir(dirname(outfile), { recursive: true });
    await esbuild.build({
      entryPoints: [join(ROOT, "cli", "node", "main.ts")],
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node18",
      outfile,
      plugins: [swapBundler],
      define: { __REFOLD_RUNTIMES__: JSON.stringify(runtimes) },
      // CommonJS dependencies (protobufjs) call require(); give them Node's.
      banner: {
        js: [
          "#!/usr/bin/env node",
          "// refold's CLI for Node >= 18, built by `deno task build:node`.",
          'import { createRequire as __refoldRequire } from "node:module";',
          "const require = __refoldRequire(import.meta.url);",
        ].join("\n"),
      },
      legalComments: "none",
      logLevel: "warning",
    });
  } finally {
    await esbuild.stop();
  }
  return (await Deno.stat(outfile)).size;
}

if (import.meta.main) {
  const outfile = Deno.args[0] ?? join(ROOT, "dist", "refold.mjs");
  const size = await buildNodeCli(outfile);
  console.log(`wrote ${relative(Deno.cwd(), outfile)} (${(size / 2 ** 20).toFixed(1)} MiB)`);
}
