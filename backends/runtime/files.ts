/**
 * Runtime glue bundled into every generated model.js: reads the files that
 * sit next to model.js. Deno and Node read file: URLs from disk (Node's
 * fetch cannot); browsers fetch.
 */

interface DenoLike {
  readFile(path: URL): Promise<Uint8Array>;
}

/** Reads `name`, relative to `base` (model.js's import.meta.url), or `override` when given. */
export async function readSibling(
  name: string,
  base: string,
  override?: string | URL,
): Promise<Uint8Array> {
  const url = new URL(override ?? name, base);
  const deno = (globalThis as { Deno?: DenoLike }).Deno;
  if (url.protocol === "file:") {
    if (deno) return await deno.readFile(url);
    const processLike = (globalThis as { process?: { versions?: { node?: string } } }).process;
    if (processLike?.versions?.node) {
      const fs = await import("node:fs/promises");
      return new Uint8Array(await fs.readFile(url));
    }
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`refold: cannot read ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** Decodes base64 (used for small embedded weights and wasm bytes). */
export function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** What load() accepts as `weights`: the bytes, or a URL or path to read them from. */
export type WeightsOption = string | URL | ArrayBuffer | Uint8Array;

/** Where model.js keeps its weights when load() is not given them. */
export interface WeightSource {
  /** Base64 of the weights, embedded in model.js when they are small. */
  readonly embedded?: string | null;
  /** The weight file, relative to model.js. */
  readonly file?: string;
  /** When set, weights of any other size are refused (the targets that check at read time). */
  readonly byteLength?: number;
}

/**
 * The weight bytes: those `given` to load() (or read from where it points),
 * else the embedded ones, else the file next to model.js; empty when the
 * model has neither (a plan run directly, as tests and benchmarks do).
 */
export async function readWeights(
  base: string,
  given: WeightsOption | undefined,
  source: WeightSource,
): Promise<Uint8Array> {
  const bytes = await weightBytes(base, given, source);
  if (source.byteLength !== undefined && bytes.byteLength !== source.byteLength) {
    throw new Error(
      `refold: weights hold ${bytes.byteLength} bytes, this model needs ${source.byteLength}`,
    );
  }
  return bytes;
}

async function weightBytes(
  base: string,
  given: WeightsOption | undefined,
  source: WeightSource,
): Promise<Uint8Array> {
  if (given instanceof Uint8Array) return given;
  if (given instanceof ArrayBuffer) return new Uint8Array(given);
  if (given != null) return await readSibling("", base, given);
  if (source.embedded != null) return fromBase64(source.embedded);
  if (source.file) return await readSibling(source.file, base);
  return new Uint8Array(0);
}
