/** Minimal path helpers (JSR's @std/path is unreachable here); node:path does the work. */
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export { basename, dirname, join };

/** The file system path of a file: URL. */
export function fromFileUrl(url: string): string {
  return fileURLToPath(url);
}
