/**
 * The output manifest: `.refold-manifest.json` in every directory refold
 * writes, listing the files it wrote there. It is how refold knows which
 * files are its own: an output directory is replaced file by file, and only
 * the files its manifest lists; a directory holding anything else is refused.
 *
 * ```json
 * { "generator": "refold", "version": 1, "files": ["model.d.ts", "model.js", "weights.bin"] }
 * ```
 *
 * While an output is being replaced the manifest also names the staging
 * directory (`"staging"`) and lists the old files and the new, so that a run
 * interrupted half-way leaves a directory the next run still recognizes.
 */
import { RefoldError } from "../ir/mod.ts";

/** The manifest's file name. */
export const MANIFEST = ".refold-manifest.json";

/** Prefix of the staging directory made inside an existing output directory. */
export const STAGING_PREFIX = ".refold-staging-";

/** What a manifest records. */
export interface Manifest {
  /** Names of the files refold wrote, directly in the output directory. */
  readonly files: readonly string[];
  /** A staging directory of an interrupted run, when there is one. */
  readonly staging?: string;
}

/** True when `name` is a plain file name a manifest may list (no path, nothing hidden). */
export function isOutputName(name: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name) && name !== MANIFEST && name.length <= 255;
}

/** The manifest's text. */
export function formatManifest(manifest: Manifest): string {
  const record: Record<string, unknown> = {
    generator: "refold",
    version: 1,
    files: [...manifest.files].sort(),
  };
  if (manifest.staging) record.staging = manifest.staging;
  return JSON.stringify(record, null, 2) + "\n";
}

/** Parses a manifest; a manifest refold could not have written is refused. */
export function parseManifest(text: string, where: string): Manifest {
  const fail = (): never => {
    throw new RefoldError(
      `${where}: ${MANIFEST} is not a manifest refold wrote; refusing to replace anything there`,
    );
  };
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch {
    return fail();
  }
  if (typeof record !== "object" || record === null) return fail();
  const { generator, version, files, staging } = record as Record<string, unknown>;
  if (generator !== "refold" || version !== 1 || !Array.isArray(files)) return fail();
  if (!files.every((name) => typeof name === "string" && isOutputName(name))) return fail();
  if (
    staging !== undefined &&
    !(typeof staging === "string" && new RegExp(`^${STAGING_PREFIX}[0-9a-f]{12}$`).test(staging))
  ) return fail();
  return { files, staging: staging as string | undefined };
}
