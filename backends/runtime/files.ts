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
