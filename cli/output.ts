/**
 * Writes the output directory all at once: files go to a temporary sibling
 * directory that is renamed into place, so a failure leaves no partial DIR.
 * An existing DIR is replaced only when it holds an earlier refold output.
 */
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import type { EmittedFile } from "../backends/backend.ts";
import { RefoldError } from "../ir/mod.ts";

const OUTPUT_MARKERS = ["model.js", "model.onnx"];

async function entriesOf(dir: string): Promise<string[] | undefined> {
  try {
    const names: string[] = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    return names;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    if (error instanceof Deno.errors.NotADirectory) {
      throw new RefoldError(`--out ${dir} exists and is not a directory`);
    }
    throw error;
  }
}

/** The path with symbolic links resolved where it exists, else just made absolute. */
function realPath(path: string): string {
  try {
    return Deno.realPathSync(path);
  } catch {
    return resolve(path);
  }
}

/** Refuses an output directory that holds the model: replacing the directory would delete it. */
export function checkOutputDir(dir: string, model: string): void {
  const inside = relative(realPath(dir), realPath(model));
  if (!isAbsolute(inside) && inside.split(sep)[0] !== "..") {
    throw new RefoldError(
      `--out ${dir} holds the model ${model}; replacing the directory would delete it`,
    );
  }
}

/** Replaces `dir` with exactly `files`. */
export async function writeOutputDir(dir: string, files: readonly EmittedFile[]): Promise<void> {
  const target = resolve(dir);
  const existing = await entriesOf(target);
  if (existing && existing.length > 0 && !existing.some((name) => OUTPUT_MARKERS.includes(name))) {
    throw new RefoldError(
      `--out ${dir} is a non-empty directory that holds no earlier refold output; refusing to overwrite it`,
    );
  }
  const parent = dirname(target);
  await Deno.mkdir(parent, { recursive: true });
  const staging = await Deno.makeTempDir({ dir: parent, prefix: `.${basename(target)}.tmp-` });
  try {
    for (const file of files) {
      const path = join(staging, file.path);
      await Deno.mkdir(dirname(path), { recursive: true });
      if (typeof file.contents === "string") await Deno.writeTextFile(path, file.contents);
      else await Deno.writeFile(path, file.contents);
    }
    if (existing) await Deno.remove(target, { recursive: true });
    await Deno.rename(staging, target);
  } catch (error) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw error;
  }
}
