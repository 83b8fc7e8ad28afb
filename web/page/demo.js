// The demo page's script: loads each target's model.js of the selected model with a
// progress bar, runs it on the sample input, and shows latency, output and the error
// against the float64 reference. Targets run one after another so timings do not overlap.

const TARGETS = ["js", "wasm", "webgpu"];
/** Timed runs stop after this long (or MAX_RUNS), after WARMUP untimed ones. */
const BUDGET_MS = 400, MAX_RUNS = 50, WARMUP = 2;

const $ = (selector, root = document) => root.querySelector(selector);
const kib = (bytes) => `${(bytes / 1024).toFixed(bytes < 10240 ? 1 : 0)} KiB`;
const ms = (value) =>
  value < 0.1
    ? `${(value * 1000).toFixed(0)} µs`
    : `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;

async function fetchArray(url, Type) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Type(await response.arrayBuffer());
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** max |y - expected| / max |expected| */
function relativeError(y, expected) {
  let diff = 0, scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(y[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return y.length === expected.length ? diff / (scale || 1) : Infinity;
}

/** What the model runs on: the wasm engine and threads, the WebGPU precision. */
function engineText(target, loaded, asked) {
  if (target === "wasm") {
    const why = crossOriginIsolated ? "no kernel large enough to split" : "page not isolated";
    const note = loaded.threads < asked ? ` (${why})` : "";
    return `${loaded.engine}, ${loaded.threads} thread${loaded.threads > 1 ? "s" : ""}${note}`;
  }
  if (target === "webgpu") return `GPU, ${loaded.precision} precision`;
  return "main thread, float32";
}

async function runTarget(card, model, target, sample) {
  const set = (cls, text) => ($(`.${cls}`, card).textContent = text);
  const fill = $(".bar .fill", card);
  card.dataset.state = "loading";
  fill.style.width = "0";
  for (const cls of ["load", "latency", "engine", "error"]) set(cls, "—");
  set("output", "");
  if (target === "webgpu" && !navigator.gpu) {
    card.dataset.state = "skipped";
    set("status", "WebGPU is not available in this browser");
    return;
  }
  set("status", "loading…");
  const threads = Number($("#threads").value);
  const start = performance.now();
  const { load } = await import(`./models/${model}/${target}/model.js`);
  const loaded = await load({
    threads,
    onProgress: ({ loaded, total }) => {
      fill.style.width = `${(100 * loaded / (total || 1)).toFixed(1)}%`;
      set("status", `weights ${kib(loaded)} / ${kib(total)}`);
    },
  });
  try {
    const loadMs = performance.now() - start;
    card.dataset.state = "running";
    set("status", "running…");
    let y;
    for (let i = 0; i < WARMUP; i++) y = await loaded.run(sample.x);
    const times = [];
    const begin = performance.now();
    while (times.length < MAX_RUNS && performance.now() - begin < BUDGET_MS) {
      const t0 = performance.now();
      y = await loaded.run(sample.x);
      times.push(performance.now() - t0);
    }
    const error = relativeError(y, sample.expected);
    set("load", ms(loadMs));
    set("latency", ms(median(times)));
    set("engine", engineText(target, loaded, threads));
    set("error", `${error.toExponential(2)} relative`);
    set(
      "output",
      `y[0..5] = ${
        Array.from(y.slice(0, 6), (v) => v.toFixed(4)).join(", ")
      }  (${y.length} values)`,
    );
    set("status", `median of ${times.length} runs, min ${ms(Math.min(...times))}`);
    card.dataset.error = String(error);
    card.dataset.latency = String(median(times));
    card.dataset.threads = String(loaded.threads ?? 1);
    card.dataset.state = "done";
  } finally {
    loaded.dispose();
  }
}

let generation = 0;

async function runModel(section) {
  const mine = ++generation;
  document.body.dataset.state = "running";
  const model = section.dataset.model;
  const sample = {
    x: await fetchArray(`./models/${model}/x.bin`, Float32Array),
    expected: await fetchArray(`./models/${model}/expected.bin`, Float64Array),
  };
  for (const target of TARGETS) {
    if (mine !== generation) return;
    const card = $(`.target[data-target=${target}]`, section);
    try {
      await runTarget(card, model, target, sample);
    } catch (error) {
      card.dataset.state = "error";
      $(".status", card).textContent = String(error?.message ?? error);
    }
  }
  if (mine === generation) document.body.dataset.state = "done";
}

function activeSection() {
  return $("section.model:not([hidden])");
}

function setup() {
  const select = $("#threads");
  const cores = navigator.hardwareConcurrency || 2;
  for (const n of [1, 2, 4, 8].filter((n) => n === 1 || n <= Math.max(2, cores))) {
    select.add(new Option(String(n), String(n)));
  }
  select.value = crossOriginIsolated ? "2" : "1";
  select.addEventListener("change", () => runModel(activeSection()));
  $("#rerun").addEventListener("click", () => runModel(activeSection()));
  $("#env").textContent = [
    crossOriginIsolated ? "cross-origin isolated (threads available)" : "not isolated: 1 thread",
    navigator.gpu ? "WebGPU available" : "no WebGPU",
    `${cores} cores`,
  ].join(" · ");
  for (const button of document.querySelectorAll("nav button")) {
    button.addEventListener("click", () => {
      for (const other of document.querySelectorAll("nav button")) {
        other.setAttribute("aria-selected", String(other === button));
      }
      for (const section of document.querySelectorAll("section.model")) {
        section.hidden = section.dataset.model !== button.dataset.model;
      }
      runModel(activeSection());
    });
  }
  runModel(activeSection());
}

setup();
