/**
 * Where `--report FILE` goes: inside --out it is written with the other
 * files (all at once, under the manifest); elsewhere on its own.
 */
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import { RefoldError } from "../ir/mod.ts";

/** `file` relative to `dir` when it lies inside it, else undefined. */
export function pathInside(dir: string, file: string): string | undefined {
  const inside = relative(resolve(dir), resolve(file));
  return inside === "" || isAbsolute(inside) || inside.split(sep)[0] === ".." ? undefined : inside;
}

/** Writes a report outside --out; an unwritable path is the user's error. */
export async function writeReport(path: string, html: string): Promise<void> {
  try {
    await Deno.mkdir(dirname(resolve(path)), { recursive: true });
    await Deno.writeTextFile(path, html);
  } catch (error) {
    throw new RefoldError(`--report ${path}: ${error instanceof Error ? error.message : error}`);
  }
}
