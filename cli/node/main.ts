/**
 * Entry of the single-file Node CLI (dist/refold.mjs, built by
 * `deno task build:node`): refold's own compile.ts, with the Deno namespace
 * that the CLI and the readers use provided by @deno/shim-deno.
 */
import { Deno as DenoShim } from "@deno/shim-deno";
import { read as readAt, readSync as readSyncAt } from "node:fs";
import { main } from "../../compile.ts";

interface ShimFile {
  readonly rid: number;
  read(into: Uint8Array): Promise<number | null>;
  readSync(into: Uint8Array): number | null;
  seek(offset: number, whence: number): Promise<number>;
  seekSync(offset: number, whence: number): number;
}

/**
 * The shim's FsFile cannot seek (Node has no lseek); refold's readers seek to
 * absolute offsets (SeekMode.Start) and read forward, so each file keeps its
 * position here and reads at it.
 */
function addSeeking(file: ShimFile): void {
  const positions = new WeakMap<ShimFile, number>();
  const seekTo = (self: ShimFile, offset: number, whence: number) => {
    if (whence !== DenoShim.SeekMode.Start) {
      throw new Error("refold's Node CLI seeks files from their start only");
    }
    positions.set(self, offset);
    return offset;
  };
  file.seek = function (offset, whence) {
    return Promise.resolve(seekTo(this, offset, whence));
  };
  file.seekSync = function (offset, whence) {
    return seekTo(this, offset, whence);
  };
  file.read = function (into) {
    const at = positions.get(this) ?? 0;
    return new Promise((resolve, reject) =>
      readAt(this.rid, into, 0, into.length, at, (error, count) => {
        if (error) return reject(error);
        positions.set(this, at + count);
        resolve(count === 0 && into.length > 0 ? null : count);
      })
    );
  };
  file.readSync = function (into) {
    const at = positions.get(this) ?? 0;
    const count = readSyncAt(this.rid, into, 0, into.length, at);
    positions.set(this, at + count);
    return count === 0 && into.length > 0 ? null : count;
  };
}

addSeeking(DenoShim.FsFile.prototype as unknown as ShimFile);
(globalThis as { Deno?: unknown }).Deno = DenoShim;
const process = (globalThis as unknown as { process: { argv: string[]; exitCode?: number } })
  .process;
process.exitCode = await main(process.argv.slice(2));
