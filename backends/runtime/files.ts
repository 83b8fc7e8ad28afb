/**
 * Runtime glue bundled into every generated model.js: reads the weights that
 * sit next to model.js, reporting progress as the bytes arrive.
 *
 * model.js must bundle unchanged for browsers (esbuild --platform=browser,
 * Vite, Rollup, webpack), so nothing here names a Node or Deno module where a
 * bundler would try to resolve it: Deno is reached through `globalThis.Deno`,
 * Node's fs through `process.getBuiltinModule` (Node 20.16+) or a dynamic
 * import whose specifier is a variable, marked for the bundlers that warn on
 * those. Browsers, and file: URLs nowhere else, go through fetch and read the
 * body stream chunk by chunk.
 */

/** Bytes of the weights read so far, and how many there are in all. */
export interface LoadProgress {
  readonly loaded: number;
  readonly total: number;
}

/** Called as weights arrive; the last call has `loaded === total`. */
export type ProgressCallback = (progress: LoadProgress) => void;

/** What load() accepts as `weights`: the bytes, or a URL or path to read them from. */
export type WeightsOption = string | URL | ArrayBuffer | Uint8Array;

/** The options of load() that decide how weights are read (every target has these). */
export interface ReadOptions {
  readonly weights?: WeightsOption;
  readonly onProgress?: ProgressCallback;
}

/** Where model.js keeps its weights when load() is not given them. */
export interface WeightSource {
  /** Base64 of the weights, embedded in model.js when they are small. */
  readonly embedded?: string | null;
  /** The weight file, relative to model.js. */
  readonly file?: string;
  /** When set, weights of any other size are refused (and progress counts towards it). */
  readonly byteLength?: number;
}

/** File reads go in chunks of this size, so that progress moves on large weights. */
const CHUNK_BYTES = 1 << 20;

interface DenoFile {
  read(into: Uint8Array): Promise<number | null>;
  stat(): Promise<{ size: number }>;
  close(): void;
}

interface NodeFileHandle {
  read(into: Uint8Array, offset: number, length: number): Promise<{ bytesRead: number }>;
  stat(): Promise<{ size: number }>;
  close(): Promise<void>;
}

interface NodeFs {
  promises: { open(path: URL, flags: string): Promise<NodeFileHandle> };
}

interface RuntimeGlobals {
  Deno?: { open(path: URL): Promise<DenoFile> };
  process?: {
    versions?: { node?: string };
    getBuiltinModule?: (name: string) => unknown;
  };
}

/** Fills a buffer from `read` until it returns 0 bytes, reporting progress per chunk. */
async function readChunks(
  size: number,
  read: (into: Uint8Array) => Promise<number>,
  report: (loaded: number, total: number) => void,
): Promise<Uint8Array> {
  let bytes = new Uint8Array(size);
  let loaded = 0, spare: Uint8Array | undefined;
  for (;;) {
    // Past the expected size (a file that grew, a body without a length), read aside and grow.
    const room = bytes.length - loaded;
    const into = room > 0
      ? bytes.subarray(loaded, loaded + Math.min(room, CHUNK_BYTES))
      : (spare ??= new Uint8Array(CHUNK_BYTES));
    const n = await read(into);
    if (n === 0) break;
    if (room === 0) {
      const grown = new Uint8Array(Math.max(bytes.length * 2, loaded + CHUNK_BYTES));
      grown.set(bytes.subarray(0, loaded));
      grown.set(into.subarray(0, n), loaded);
      bytes = grown;
    }
    loaded += n;
    report(loaded, Math.max(size, loaded));
  }
  return loaded === bytes.length ? bytes : bytes.slice(0, loaded);
}

async function nodeFs(): Promise<NodeFs> {
  const process = (globalThis as RuntimeGlobals).process!;
  const builtin = process.getBuiltinModule?.("node:fs") as NodeFs | undefined;
  if (builtin) return builtin;
  // A variable specifier: bundlers leave it alone, and Node before 20.16 resolves it.
  const specifier = "node:fs";
  return await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier) as NodeFs;
}

/** Reads a file: URL from disk in Deno or Node (whose fetch cannot read file: URLs). */
async function readLocalFile(
  url: URL,
  report: (loaded: number, total: number) => void,
): Promise<Uint8Array | undefined> {
  const globals = globalThis as RuntimeGlobals;
  if (globals.Deno) {
    const file = await globals.Deno.open(url);
    try {
      const { size } = await file.stat();
      return await readChunks(size, async (into) => (await file.read(into)) ?? 0, report);
    } finally {
      file.close();
    }
  }
  if (globals.process?.versions?.node) {
    const handle = await (await nodeFs()).promises.open(url, "r");
    try {
      const { size } = await handle.stat();
      return await readChunks(
        size,
        async (into) => (await handle.read(into, 0, into.length)).bytesRead,
        report,
      );
    } finally {
      await handle.close();
    }
  }
  return undefined;
}

/** Fetches `url`, reading the body stream so that progress moves as bytes arrive. */
async function fetchBytes(
  url: URL,
  report: (loaded: number, total: number) => void,
): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`refold: cannot read ${url}: HTTP ${response.status}`);
  // Content-Length counts encoded bytes; it is the size only when the body is not compressed.
  const length = response.headers.get("content-encoding")
    ? 0
    : Number(response.headers.get("content-length") ?? 0);
  const reader = response.body?.getReader();
  if (!reader) return new Uint8Array(await response.arrayBuffer());
  let pending: Uint8Array | undefined;
  return await readChunks(length, async (into) => {
    if (!pending || pending.length === 0) {
      const { done, value } = await reader.read();
      if (done) return 0;
      pending = value;
    }
    const n = Math.min(into.length, pending.length);
    into.set(pending.subarray(0, n));
    pending = pending.subarray(n);
    return n;
  }, report);
}

/** Reads `name`, relative to `base` (model.js's import.meta.url), or `override` when given. */
export async function readSibling(
  name: string,
  base: string | undefined,
  options: { override?: string | URL; onProgress?: ProgressCallback; total?: number } = {},
): Promise<Uint8Array> {
  if (options.override === undefined && base === undefined) {
    throw new Error(
      `refold: cannot find ${name}: import.meta.url is not available (was model.js bundled ` +
        "into a script rather than an ES module?); pass load({ weights: URL of " +
        `${name} }) or its bytes`,
    );
  }
  const url = new URL(options.override ?? name, base);
  const onProgress = options.onProgress;
  const report = (loaded: number, total: number) =>
    onProgress?.({ loaded, total: Math.max(loaded, options.total ?? total) });
  const bytes = (url.protocol === "file:" ? await readLocalFile(url, report) : undefined) ??
    await fetchBytes(url, report);
  // The last call says loaded === total, also for an empty file or an unknown length.
  onProgress?.({ loaded: bytes.byteLength, total: bytes.byteLength });
  return bytes;
}

/** Decodes base64 (used for small embedded weights and wasm bytes). */
export function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * The weight bytes: those given to load() (or read from where it points),
 * else the embedded ones, else the file next to model.js; empty when the
 * model has neither (a plan run directly, as tests and benchmarks do).
 */
export async function readWeights(
  base: string | undefined,
  options: ReadOptions,
  source: WeightSource,
): Promise<Uint8Array> {
  const bytes = await weightBytes(base, options, source);
  if (source.byteLength !== undefined && bytes.byteLength !== source.byteLength) {
    throw new Error(
      `refold: weights hold ${bytes.byteLength} bytes, this model needs ${source.byteLength}`,
    );
  }
  return bytes;
}

async function weightBytes(
  base: string | undefined,
  { weights, onProgress }: ReadOptions,
  source: WeightSource,
): Promise<Uint8Array> {
  const read = (name: string, override?: string | URL) =>
    readSibling(name, base, { override, onProgress, total: source.byteLength });
  let bytes: Uint8Array;
  if (weights instanceof Uint8Array) bytes = weights;
  else if (weights instanceof ArrayBuffer) bytes = new Uint8Array(weights);
  else if (weights != null) return await read("weights", weights);
  else if (source.embedded != null) bytes = fromBase64(source.embedded);
  else if (source.file) return await read(source.file);
  else bytes = new Uint8Array(0);
  onProgress?.({ loaded: bytes.byteLength, total: bytes.byteLength });
  return bytes;
}
