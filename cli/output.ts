/**
 * Writes the output directory without ever losing a file refold did not write.
 *
 * - A new directory is staged as a hidden sibling and renamed into place, so a
 *   failure leaves nothing behind. It gets the modes the umask gives (755 and
 *   644 under umask 022), not a temporary directory's 700.
 * - An existing directory is written in place: only when it is empty or holds
 *   nothing but the files its manifest (.refold-manifest.json, cli/manifest.ts)
 *   lists. The new files are staged inside it and renamed over the old ones one
 *   by one; old files the new output lacks are deleted; the manifest is
 *   replaced last. The directory itself, its mode and a symbolic link to it
 *   are kept: `--out` through a link writes into the link's target.
 * - No file that the compilation read (the model, its weights, external data)
 *   is ever replaced or deleted, even when a manifest lists it.
 *
 * Every refusal and every OS error is a one-line RefoldError naming --out.
 */
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import type { EmittedFile } from "../backends/backend.ts";
import { RefoldError } from "../ir/mod.ts";
import {
  formatManifest,
  isOutputName,
  MANIFEST,
  type Manifest,
  parseManifest,
  STAGING_PREFIX,
} from "./manifest.ts";

/** What --out points at now. */
type Found =
  | { readonly kind: "missing" }
  | { readonly kind: "directory"; readonly path: string; readonly manifest?: Manifest };

/** Options of writeOutputDir. */
export interface WriteOptions {
  /** Files the compilation read; none of them is ever replaced or deleted. */
  readonly inputs?: readonly string[];
}

/** An OS error as a one-line reason: "Permission denied", without Deno's "(os error 13)" tail. */
function osReason(error: unknown): string {
  return (error instanceof Error ? error.message : String(error))
    .replace(/ \(os error \d+\).*$/s, "");
}

/** Runs an OS operation; an OS error becomes a RefoldError saying what could not be done. */
async function os<T>(dir: string, doing: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof RefoldError || !(error instanceof Error) || !isOsError(error)) throw error;
    throw new RefoldError(`--out ${dir}: cannot ${doing}: ${osReason(error)}`);
  }
}

/** Errors that come from the file system rather than from refold. */
function isOsError(error: Error): boolean {
  return Object.values(Deno.errors).some((kind) => error instanceof kind);
}

function lstat(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** Quotes a directory entry's name for a message. */
const quote = (name: string) => JSON.stringify(name);

/** What is at `dir`, checked: a directory refold may write into, or nothing. */
function inspect(dir: string): Found {
  const link = lstat(dir);
  if (!link) return { kind: "missing" };
  let info = link;
  if (link.isSymlink) {
    try {
      info = Deno.statSync(dir);
    } catch {
      throw new RefoldError(`--out ${dir} is a symbolic link to nothing; refusing to replace it`);
    }
  }
  if (!info.isDirectory) throw new RefoldError(`--out ${dir} exists and is not a directory`);
  const path = Deno.realPathSync(dir);
  const names = [...Deno.readDirSync(path)].map((entry) => entry.name).sort();
  if (names.length === 0) return { kind: "directory", path };
  if (!names.includes(MANIFEST)) {
    const shown = names.slice(0, 3).map(quote).join(", ") +
      (names.length > 3 ? ` and ${names.length - 3} more` : "");
    throw new RefoldError(
      `--out ${dir} holds ${shown}, which refold did not write (it has no ${MANIFEST}); ` +
        `refusing to touch it`,
    );
  }
  if (!lstat(join(path, MANIFEST))?.isFile) {
    throw new RefoldError(`--out ${dir}: ${MANIFEST} is not a regular file; refusing to touch it`);
  }
  const manifest = parseManifest(Deno.readTextFileSync(join(path, MANIFEST)), `--out ${dir}`);
  const foreign = names.filter((name) =>
    name !== MANIFEST && name !== manifest.staging && !manifest.files.includes(name)
  );
  if (foreign.length > 0) {
    throw new RefoldError(
      `--out ${dir} holds ${foreign.slice(0, 3).map(quote).join(", ")}, which its ${MANIFEST} ` +
        `does not list; refusing to touch it`,
    );
  }
  for (const name of manifest.files) {
    const entry = lstat(join(path, name));
    if (entry && !entry.isFile) {
      throw new RefoldError(
        `--out ${dir}: ${quote(name)} is not a regular file, so refold did not write it; ` +
          `refusing to touch it`,
      );
    }
  }
  if (manifest.staging && names.includes(manifest.staging)) stagedFiles(dir, path, manifest);
  return { kind: "directory", path, manifest };
}

/** The files of an interrupted run's staging directory, which holds nothing else. */
function stagedFiles(dir: string, path: string, manifest: Manifest): string[] {
  const staging = join(path, manifest.staging!);
  if (!lstat(staging)?.isDirectory) {
    throw new RefoldError(`--out ${dir}: ${manifest.staging} is not a directory; refusing`);
  }
  const entries = [...Deno.readDirSync(staging)];
  if (!entries.every((entry) => entry.isFile)) {
    throw new RefoldError(`--out ${dir}: ${manifest.staging} holds more than files; refusing`);
  }
  return entries.map((entry) => join(staging, entry.name));
}

/** The path with symbolic links resolved where it exists, else just made absolute. */
function realPath(path: string): string {
  try {
    return Deno.realPathSync(path);
  } catch {
    return resolve(path);
  }
}

/**
 * Checks --out before anything is compiled: refuses a directory that holds the
 * model or anything refold did not write, and anything that is not a directory.
 */
export function checkOutputDir(dir: string, model: string): void {
  const inside = relative(realPath(dir), realPath(model));
  if (!isAbsolute(inside) && inside.split(sep)[0] !== "..") {
    throw new RefoldError(
      `--out ${dir} holds the model ${model}; refold never writes where its input is`,
    );
  }
  try {
    inspect(dir);
  } catch (error) {
    if (error instanceof Error && isOsError(error)) {
      throw new RefoldError(`--out ${dir}: cannot read it: ${osReason(error)}`);
    }
    throw error;
  }
}

/** Device and inode of a file, or its real path where the platform has no inodes. */
function identity(path: string): string | undefined {
  try {
    const info = Deno.statSync(path);
    return info.ino !== null && info.dev !== null
      ? `${info.dev}:${info.ino}`
      : Deno.realPathSync(path);
  } catch {
    return undefined;
  }
}

/** Refuses when replacing or deleting `paths` would touch a file the compilation read. */
function protectInputs(dir: string, paths: readonly string[], inputs: readonly string[]): void {
  const read = new Map<string, string>();
  for (const input of inputs) {
    const id = identity(input);
    if (id) read.set(id, input);
  }
  for (const path of paths) {
    const input = read.get(identity(path) ?? "");
    if (input !== undefined) {
      throw new RefoldError(
        `--out ${dir}: ${quote(basename(path))} is the input ${input}; refold never replaces ` +
          `what it reads`,
      );
    }
  }
}

function randomSuffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

async function writeFiles(
  dir: string,
  into: string,
  files: readonly EmittedFile[],
): Promise<void> {
  for (const file of files) {
    const path = join(into, file.path);
    await os(
      dir,
      `write ${file.path}`,
      () =>
        typeof file.contents === "string"
          ? Deno.writeTextFile(path, file.contents)
          : Deno.writeFile(path, file.contents),
    );
  }
}

/** A new output directory: staged beside it, then renamed into place. */
async function createOutput(dir: string, files: readonly EmittedFile[]): Promise<void> {
  const target = resolve(dir);
  const parent = dirname(target);
  await os(dir, `create ${parent}`, () => Deno.mkdir(parent, { recursive: true }));
  const staging = join(parent, `.${basename(target)}.tmp-${randomSuffix()}`);
  await os(dir, `create a directory in ${parent}`, () => Deno.mkdir(staging));
  try {
    await writeFiles(dir, staging, files);
    const manifest = formatManifest({ files: files.map((file) => file.path) });
    await os(dir, `write ${MANIFEST}`, () => Deno.writeTextFile(join(staging, MANIFEST), manifest));
    await os(dir, "move it into place", () => Deno.rename(staging, target));
  } catch (error) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw error;
  }
}

/** An existing output directory (empty, or refold's own), replaced file by file. */
async function replaceOutput(
  dir: string,
  found: Extract<Found, { kind: "directory" }>,
  files: readonly EmittedFile[],
  inputs: readonly string[],
): Promise<void> {
  const { path, manifest } = found;
  const oldFiles = manifest?.files ?? [];
  const newFiles = files.map((file) => file.path);
  const leftover = manifest?.staging && lstat(join(path, manifest.staging))
    ? stagedFiles(dir, path, manifest)
    : [];
  const touched = [...new Set([...oldFiles, ...newFiles, MANIFEST])].map((name) =>
    join(path, name)
  );
  protectInputs(dir, [...touched, ...leftover], inputs);
  if (manifest?.staging && lstat(join(path, manifest.staging))) {
    await os(dir, `remove ${manifest.staging}`, async () => {
      for (const file of leftover) await Deno.remove(file);
      await Deno.remove(join(path, manifest.staging!));
    });
  }
  const stagingName = `${STAGING_PREFIX}${randomSuffix()}`;
  const staging = join(path, stagingName);
  await os(dir, "create a staging directory in it", () => Deno.mkdir(staging));
  const placeManifest = (record: Manifest) =>
    os(dir, `write ${MANIFEST}`, async () => {
      await Deno.writeTextFile(join(staging, MANIFEST), formatManifest(record));
      await Deno.rename(join(staging, MANIFEST), join(path, MANIFEST));
    });
  try {
    await writeFiles(dir, staging, files);
    // Until the last step the manifest lists old and new files, so an interrupted run is recognized.
    await placeManifest({ files: [...new Set([...oldFiles, ...newFiles])], staging: stagingName });
    for (const name of newFiles) {
      await os(dir, `replace ${name}`, () => Deno.rename(join(staging, name), join(path, name)));
    }
    for (const name of oldFiles.filter((name) => !newFiles.includes(name))) {
      const stale = join(path, name);
      if (lstat(stale)) await os(dir, `remove ${name}`, () => Deno.remove(stale));
    }
    await placeManifest({ files: newFiles });
    await os(dir, `remove ${stagingName}`, () => Deno.remove(staging));
  } catch (error) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw error;
  }
}

/**
 * Writes `files` to `dir`: a new directory, an empty one, or one holding only
 * an earlier refold output. Never touches anything else, nor any of `inputs`.
 */
export async function writeOutputDir(
  dir: string,
  files: readonly EmittedFile[],
  options: WriteOptions = {},
): Promise<void> {
  for (const file of files) {
    // The backends' own names; anything else is a refold bug, not a user error.
    if (!isOutputName(file.path)) throw new Error(`backend emitted a bad file name "${file.path}"`);
  }
  let found: Found;
  try {
    found = inspect(dir);
  } catch (error) {
    if (error instanceof Error && isOsError(error)) {
      throw new RefoldError(`--out ${dir}: cannot read it: ${osReason(error)}`);
    }
    throw error;
  }
  if (found.kind === "missing") await createOutput(dir, files);
  else await replaceOutput(dir, found, files, options.inputs ?? []);
}
