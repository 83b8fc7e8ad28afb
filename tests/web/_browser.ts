/**
 * Headless Chromium for the browser tests: Debian's chromium, driven by
 * playwright-core (which downloads no browser of its own). WebGPU runs on
 * SwiftShader: --enable-unsafe-webgpu exposes it on Linux, --disable-gpu keeps
 * every machine on the same software adapter. The network flags keep Chromium
 * from calling home on a machine whose network is closed.
 */
import { type BrowserContext, chromium } from "playwright-core";

/** Where Debian's chromium package puts the browser; REFOLD_CHROMIUM overrides. */
export const CHROMIUM = Deno.env.get("REFOLD_CHROMIUM") ?? "/usr/bin/chromium";

/** Chromium's command-line flags for the tests. */
export const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--enable-unsafe-webgpu",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** A browser with a fresh profile; close() removes the profile too. */
export interface Browser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/** Starts Chromium, or fails saying how to install it. */
export async function launchChromium(): Promise<Browser> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `no Chromium at ${CHROMIUM}: install Debian's (apt-get install -y chromium) or set ` +
        "REFOLD_CHROMIUM to a Chromium binary",
    );
  }
  const profile = await Deno.makeTempDir({ prefix: "refold-chromium-" });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    async close() {
      await context.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}
