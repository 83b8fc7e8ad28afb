/**
 * The project's snapshot helper (JSR's @std/testing is unreachable here).
 *
 * One `.snap` file per test file, in `__snapshots__/` beside it, holding named
 * text sections. `deno test -A tests/ -- --update` rewrites them; otherwise a
 * mismatch fails with a line diff. Under CI=true a missing snapshot fails
 * instead of being written, and `checkOrphans()` (registered last in a test
 * file) fails on stored sections that no test matched.
 */
import { AssertionError } from "node:assert";
import { basename, dirname, fromFileUrl, join } from "./_path.ts";

const UPDATE = Deno.args.includes("--update");
const IN_CI = Deno.env.get("CI") === "true";
const HEADER = "=== ";

/** Snapshots of one test file. */
export interface SnapshotFile {
  /** Compares `actual` with the stored section `name`, writing it when updating. */
  match(name: string, actual: string): Promise<void>;
  /** Registers a final test that fails on stored sections no test matched. */
  checkOrphans(): void;
}

function parseSnap(text: string): Map<string, string> {
  const sections = new Map<string, string>();
  let name: string | undefined;
  let body: string[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith(HEADER) && line.endsWith(" ===")) {
      if (name !== undefined) sections.set(name, body.join("\n").replace(/\n$/, ""));
      name = line.slice(HEADER.length, -4);
      body = [];
    } else body.push(line);
  }
  if (name !== undefined) sections.set(name, body.join("\n").replace(/\n+$/, ""));
  return sections;
}

function formatSnap(sections: Map<string, string>): string {
  return [...sections.keys()].sort().map((name) => `${HEADER}${name} ===\n${sections.get(name)}\n`)
    .join("\n");
}

function lineDiff(expected: string, actual: string): string {
  const a = expected.split("\n"), b = actual.split("\n");
  const out: string[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] === b[i]) continue;
    if (a[i] !== undefined) out.push(`- ${a[i]}`);
    if (b[i] !== undefined) out.push(`+ ${b[i]}`);
    if (out.length > 40) break;
  }
  return out.join("\n");
}

/** Opens the snapshots of the test file at `testUrl` (pass `import.meta.url`). */
export function snapshotFile(testUrl: string): SnapshotFile {
  const testPath = fromFileUrl(testUrl);
  const path = join(dirname(testPath), "__snapshots__", basename(testPath) + ".snap");
  let stored: Map<string, string>;
  try {
    stored = parseSnap(Deno.readTextFileSync(path));
  } catch {
    stored = new Map();
  }
  const matched = new Set<string>();
  const updated = new Map<string, string>();
  const save = () => {
    const merged = new Map([...(UPDATE ? [] : stored), ...updated]);
    if (UPDATE) {
      for (const name of matched) if (!merged.has(name)) merged.set(name, stored.get(name)!);
    }
    Deno.mkdirSync(dirname(path), { recursive: true });
    Deno.writeTextFileSync(path, formatSnap(merged));
  };
  return {
    match(name, actual) {
      if (name.includes("\n")) throw new Error("snapshot names are one line");
      matched.add(name);
      const text = actual.replace(/\n+$/, "");
      const expected = stored.get(name);
      if (UPDATE || expected === undefined) {
        if (expected === undefined && !UPDATE && IN_CI) {
          throw new AssertionError({ message: `snapshot "${name}" is missing from ${path}` });
        }
        updated.set(name, text);
        save();
        return Promise.resolve();
      }
      if (expected !== text) {
        throw new AssertionError({
          message: `snapshot "${name}" differs (run with -- --update to accept):\n${
            lineDiff(expected, text)
          }`,
        });
      }
      return Promise.resolve();
    },
    checkOrphans() {
      Deno.test(`snapshots of ${basename(testPath)} have no orphans`, () => {
        if (UPDATE) return save();
        const orphans = [...stored.keys()].filter((name) => !matched.has(name));
        if (orphans.length > 0) {
          throw new AssertionError({
            message: `orphaned snapshots in ${path}: ${orphans.join(", ")} (run with -- --update)`,
          });
        }
      });
    },
  };
}
