// The demo page (`deno task serve`) in headless Chromium: it compiles the demo models, the
// page loads and runs every target, and the results are checked in the DOM and in a
// screenshot that is decoded and inspected: not blank, the progress bars filled, and text
// drawn where each latency is shown. The screenshot is kept in out/test-screenshots/.
import assert from "node:assert/strict";
import { startDemo } from "../../web/serve.ts";
import { join } from "../_path.ts";
import { ROOT } from "../cli/_run.ts";
import { launchChromium } from "./_browser.ts";
import { TOLERANCE } from "./_modules.ts";

const SHOTS = join(ROOT, "out", "test-screenshots");

interface Inspection {
  /** Pixels that differ from the page background. */
  inkFraction: number;
  /** Distinct colours (quantized to 4 bits per channel). */
  colours: number;
  /** Pixels of the done progress bar's green. */
  green: number;
  /** Dark pixels (text) inside each box. */
  textInBoxes: number[];
}

type Box = { x: number; y: number; width: number; height: number };

/** Decodes a PNG in the page and measures it (no PNG decoder needed outside the browser). */
function inspectInPage(args: { png: string; boxes: Box[] }): Promise<Inspection> {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onerror = () => reject(new Error("the screenshot does not decode"));
    image.onload = () => {
      const canvas = document.createElement("canvas");
      canvas.width = image.width;
      canvas.height = image.height;
      const context = canvas.getContext("2d")!;
      context.drawImage(image, 0, 0);
      const { data } = context.getImageData(0, 0, image.width, image.height);
      const at = (x: number, y: number) => 4 * (y * image.width + x);
      const [br, bg, bb] = data.slice(0, 3);
      let ink = 0, green = 0;
      const colours = new Set<number>();
      for (let i = 0; i < data.length; i += 4) {
        const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
        if (Math.abs(r - br) + Math.abs(g - bg) + Math.abs(b - bb) > 24) ink++;
        if (Math.abs(r - 0x22) < 12 && Math.abs(g - 0xc5) < 12 && Math.abs(b - 0x5e) < 12) green++;
        colours.add(((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4));
      }
      const textInBoxes = args.boxes.map((box) => {
        let dark = 0;
        for (let y = Math.floor(box.y); y < box.y + box.height; y++) {
          for (let x = Math.floor(box.x); x < box.x + box.width; x++) {
            const i = at(x, y);
            if (data[i] + data[i + 1] + data[i + 2] < 200) dark++;
          }
        }
        return dark;
      });
      resolve({ inkFraction: ink / (data.length / 4), colours: colours.size, green, textInBoxes });
    };
    image.src = `data:image/png;base64,${args.png}`;
  });
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

Deno.test("deno task serve: the demo page runs every target and shows the results", async () => {
  const site = await Deno.makeTempDir({ prefix: "refold-demo-" });
  const server = await startDemo({ site });
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(server.url);
    await page.waitForSelector("body[data-state=done]", { state: "attached", timeout: 120_000 });
    const section = page.locator("section.model:not([hidden])");
    for (const target of ["js", "wasm", "webgpu"]) {
      const card = section.locator(`.target[data-target=${target}]`);
      assert.equal(await card.getAttribute("data-state"), "done", `${target} finished`);
      const error = Number(await card.getAttribute("data-error"));
      assert.ok(error <= TOLERANCE[target], `${target}: ${error} vs the float64 reference`);
      assert.match(await card.locator(".latency").innerText(), /^(\d+\.\d+ ms|\d+ µs)$/);
      assert.match(await card.locator(".load").innerText(), /^\d+\.\d+ ms$/);
      assert.match(await card.locator(".output").innerText(), /^y\[0\.\.5\] = -?\d/);
    }
    assert.equal(await section.locator("svg.graph").count(), 2, "training and deployed graphs");
    assert.ok(await section.locator("table.passes tbody tr").count() >= 8, "a row per pass");
    assert.deepEqual(errors, []);

    const png = await page.screenshot();
    await Deno.mkdir(SHOTS, { recursive: true });
    await Deno.writeFile(join(SHOTS, "demo.png"), png);
    const boxes: Box[] = [];
    for (const latency of await section.locator(".latency").all()) {
      boxes.push((await latency.boundingBox())!);
    }
    const inspection = await page.evaluate(inspectInPage, { png: base64(png), boxes });
    assert.ok(inspection.inkFraction > 0.03, `mostly blank: ${inspection.inkFraction}`);
    assert.ok(inspection.colours > 40, `only ${inspection.colours} colours`);
    // Three filled progress bars of about 370 x 6 pixels each.
    assert.ok(inspection.green > 3 * 300 * 5, `progress bars: ${inspection.green} green pixels`);
    for (const [i, dark] of inspection.textInBoxes.entries()) {
      assert.ok(dark > 60, `no latency drawn in box ${i} (${dark} dark pixels)`);
    }
  } finally {
    await browser.close();
    await server.shutdown();
    await Deno.remove(site, { recursive: true });
  }
});
