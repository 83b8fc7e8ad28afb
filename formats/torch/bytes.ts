/**
 * Where a checkpoint's bytes come from: a file read by position (each read
 * lands in a fresh buffer, the only copy) or bytes already in memory (reads
 * are views, no copy at all). The zip reader sees only this interface.
 */
import { RefoldError } from "../../ir/mod.ts";

/** Random access to a file's bytes. */
export interface ByteSource {
  /** The file name used in error messages. */
  readonly file: string;
  /** Total size in bytes. */
  readonly size: number;
  /** `length` bytes at `position`; throws a RefoldError past the end. */
  read(position: number, length: number): Promise<Uint8Array>;
  /** Releases the file (a no-op for bytes in memory). */
  close(): void;
}

function checkRange(source: ByteSource, position: number, length: number, what: string): void {
  if (position < 0 || length < 0 || position + length > source.size) {
    throw new RefoldError(
      `${what} at bytes [${position}, ${position + length}) lies past the end of the ` +
        `${source.size}-byte file (truncated?)`,
      { file: source.file },
    );
  }
}

/** Bytes in memory: reads are subarrays. */
export function bytesSource(bytes: Uint8Array, file: string): ByteSource {
  const source: ByteSource = {
    file,
    size: bytes.length,
    read(position, length) {
      checkRange(source, position, length, "a read");
      return Promise.resolve(bytes.subarray(position, position + length));
    },
    close() {},
  };
  return source;
}

/** A file opened for positioned reads; reads are queued so that seeks never interleave. */
export async function fileSource(path: string, label = path): Promise<ByteSource> {
  let handle: Deno.FsFile;
  try {
    if (!(await Deno.stat(path)).isFile) throw new RefoldError("is not a file", { file: label });
    handle = await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof RefoldError) throw error;
    const reason = error instanceof Deno.errors.NotFound
      ? "file not found"
      : `cannot open: ${(error as Error).message.replace(/ \(os error \d+\).*$/, "")}`;
    throw new RefoldError(reason, { file: label });
  }
  const size = (await handle.stat()).size;
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;
  const source: ByteSource = {
    file: label,
    size,
    read(position, length) {
      checkRange(source, position, length, "a read");
      if (closed) throw new RefoldError("read after close", { file: label });
      const next = queue.then(() => readFully(handle, position, new Uint8Array(length), label));
      queue = next.catch(() => {});
      return next;
    },
    close() {
      if (!closed) handle.close();
      closed = true;
    },
  };
  return source;
}

async function readFully(
  handle: Deno.FsFile,
  position: number,
  into: Uint8Array,
  file: string,
): Promise<Uint8Array> {
  await handle.seek(position, Deno.SeekMode.Start);
  for (let done = 0; done < into.length;) {
    const count = await handle.read(into.subarray(done));
    if (count === null) {
      throw new RefoldError(
        `file ends at byte ${position + done}, ${into.length - done} bytes short ` +
          `(changed while reading?)`,
        { file },
      );
    }
    done += count;
  }
  return into;
}
