// The browser tests' page script: bundled by esbuild (--platform=browser) with the three
// targets' model.js, as an application would be. Each bundled model is pointed at its own
// weights file next to the bundle, as docs/module-contract.md describes.
import { load as loadJs } from "./js/model.js";
import { load as loadWasm } from "./wasm/model.js";
import { load as loadWebgpu } from "./webgpu/model.js";

const LOADERS = { js: loadJs, wasm: loadWasm, webgpu: loadWebgpu };

// Counts workers the page creates, to see that a 2-thread model really started one.
let workersCreated = 0;
const PageWorker = globalThis.Worker;
globalThis.Worker = class extends PageWorker {
  constructor(...args) {
    super(...args);
    workersCreated++;
  }
};

async function runCase({ target, threads }) {
  const before = workersCreated;
  const progress = [];
  const model = await LOADERS[target]({
    weights: new URL(`./${target}.weights.bin`, import.meta.url),
    threads,
    onProgress: (p) => progress.push({ loaded: p.loaded, total: p.total }),
  });
  const x = new Float32Array(await (await fetch("./x.bin")).arrayBuffer());
  const y = await model.run(x);
  const again = await model.run(x);
  const result = {
    y: Array.from(y),
    repeatable: y.every((v, i) => Object.is(v, again[i])),
    progress,
    threads: model.threads ?? 1,
    engine: model.engine ?? null,
    precision: model.precision ?? null,
    workers: workersCreated - before,
    isolated: globalThis.crossOriginIsolated,
  };
  model.dispose();
  return result;
}

globalThis.refoldHarness = { runCase };
document.body.dataset.ready = "true";
