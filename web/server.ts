/**
 * A small static file server for the demo page and the browser tests. It
 * sends `Cross-Origin-Opener-Policy: same-origin` and
 * `Cross-Origin-Embedder-Policy: require-corp`, which make the page
 * cross-origin isolated: only then do browsers give it SharedArrayBuffer, and
 * a wasm model run on more than one thread.
 */
import { extname, join, normalize, sep } from "node:path";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".wasm": "application/wasm",
  ".ts": "text/plain; charset=utf-8",
};

/** The headers that make a page cross-origin isolated. */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
  "cross-origin-resource-policy": "same-origin",
};

/** Options of serveDirectory. */
export interface ServeOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  readonly port?: number;
  /** Default 127.0.0.1: the files are the user's, not the network's. */
  readonly hostname?: string;
  /** Send the isolation headers (default true); tests turn them off to see threads fall back. */
  readonly isolate?: boolean;
  /** Answers some paths itself (e.g. a page built on the fly); undefined falls through to files. */
  readonly handle?: (path: string) => Response | Promise<Response> | undefined;
}

/** A running server. */
export interface FileServer {
  /** Its address, e.g. http://127.0.0.1:8000/ */
  readonly url: string;
  shutdown(): Promise<void>;
}

/** The file under `root` that a URL path names, or undefined when it would leave `root`. */
function filePath(root: string, path: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  const relative = normalize(decoded).replace(/^[/\\]+/, "");
  if (relative.split(/[/\\]/).includes("..") || decoded.includes("\0")) return undefined;
  const full = join(root, relative);
  return full === root || full.startsWith(root.endsWith(sep) ? root : root + sep)
    ? full
    : undefined;
}

async function fileResponse(path: string): Promise<Response> {
  try {
    const info = await Deno.stat(path);
    if (info.isDirectory) return await fileResponse(join(path, "index.html"));
    const file = await Deno.open(path);
    return new Response(file.readable, {
      headers: {
        "content-type": TYPES[extname(path)] ?? "application/octet-stream",
        "content-length": String(info.size),
        "cache-control": "no-store",
      },
    });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return new Response("not found", { status: 404 });
    throw error;
  }
}

/** Serves the files under `root`. */
export function serveDirectory(root: string, options: ServeOptions = {}): FileServer {
  const server = Deno.serve({
    port: options.port ?? 0,
    hostname: options.hostname ?? "127.0.0.1",
    onListen() {},
  }, async (request) => {
    const { pathname } = new URL(request.url);
    let response = await options.handle?.(pathname);
    if (!response) {
      const path = filePath(root, pathname);
      response = path === undefined
        ? new Response("bad path", { status: 400 })
        : await fileResponse(path);
    }
    if (options.isolate ?? true) {
      for (const [name, value] of Object.entries(ISOLATION_HEADERS)) {
        response.headers.set(name, value);
      }
    }
    return response;
  });
  const { hostname, port } = server.addr as Deno.NetAddr;
  return { url: `http://${hostname}:${port}/`, shutdown: () => server.shutdown() };
}
