/**
 * backends/bundle.ts for the single-file Node CLI (dist/refold.mjs), which
 * cannot carry esbuild's native binary. The runtime glue that model.js needs
 * was bundled by esbuild when the CLI was built (cli/node/build.ts); here a
 * generated entry is linked to it by text: each `import { names } from
 * "RUNTIME";` line becomes the pre-bundled runtime wrapped in a function that
 * returns those names. Entries are plain JavaScript, which the backends write.
 */

/** Options of bundleModule (the same as backends/bundle.ts; `minify` is not supported here). */
export interface BundleOptions {
  readonly minify?: boolean;
  readonly banner?: string;
}

/** Pre-bundled runtime modules by their path relative to backends/, set in by the build. */
declare const __REFOLD_RUNTIMES__: Readonly<Record<string, string>>;

/** The trailing `export { a, b as c };` esbuild writes, as [local, exported] pairs. */
function exportsOf(code: string, key: string): { body: string; names: Map<string, string> } {
  const match = /\nexport\s*\{([^}]*)\};\s*$/.exec(code);
  if (!match) throw new Error(`refold: the pre-bundled runtime ${key} has no export list`);
  const names = new Map<string, string>();
  for (const item of match[1].split(",").map((part) => part.trim()).filter(Boolean)) {
    const [local, exported = local] = item.split(/\s+as\s+/);
    names.set(exported, local);
  }
  return { body: code.slice(0, match.index), names };
}

/** Links `entrySource` with the pre-bundled runtimes it imports. */
export function bundleModule(entrySource: string, options: BundleOptions = {}): Promise<string> {
  const linked = entrySource.replace(
    /^import\s*\{([^}]*)\}\s*from\s*("[^"]+");$/gm,
    (_, list: string, specifier: string) => {
      const key = JSON.parse(specifier) as string;
      const code = __REFOLD_RUNTIMES__[key];
      if (code === undefined) throw new Error(`refold: no pre-bundled runtime ${key}`);
      const { body, names } = exportsOf(code, key);
      const wanted = list.split(",").map((name) => name.trim()).filter(Boolean);
      const returned = wanted.map((name) => {
        if (!names.has(name)) throw new Error(`refold: runtime ${key} does not export ${name}`);
        return `${name}: ${names.get(name)}`;
      });
      return `const { ${wanted.join(", ")} } = (() => {\n${body}\nreturn { ${
        returned.join(", ")
      } };\n})();`;
    },
  );
  if (/^import\s/m.test(linked)) throw new Error("refold: an entry import was left unlinked");
  return Promise.resolve(options.banner === undefined ? linked : `${options.banner}\n${linked}`);
}

/** The specifier generated entries import a runtime file by: its path relative to backends/. */
export function runtimeImport(relativeToBackends: string): string {
  return JSON.stringify(relativeToBackends);
}
