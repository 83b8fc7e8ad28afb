/**
 * The runtime bundled into every wasm model.js (esbuild inlines it with the
 * shared glue): picks the relaxed-simd module when the engine validates it,
 * else plain SIMD; fills index tables; places weights, packing GEMM weights
 * once into each kernel's panel layout; then runs the module's `run` export
 * on inputs copied into linear memory. It imports nothing but the shared glue.
 */
import {
  fromBase64,
  type ProgressCallback,
  readWeights,
  type WeightsOption,
} from "../../runtime/files.ts";
import { canThread, CONTROL_BYTES, startWorkers, type ThreadPool } from "./thread_pool.ts";
import { normalizeInputs, type RunInput, shapeOutputs, type TensorInfo } from "../../runtime/io.ts";

/** Memory placement of one module variant. */
export interface VariantPlan {
  readonly pages: number;
  /** Index tables: address and runs as [size, byte stride]. */
  readonly tables: readonly {
    readonly address: number;
    readonly dims: readonly (readonly [number, number])[];
  }[];
  /** Weights stored as they are: float offset in weights.bin and float count. */
  readonly copies: readonly {
    readonly address: number;
    readonly offset: number;
    readonly length: number;
  }[];
  /** Weights packed at load into [group][tile][k][panel] (k tap-major when taps > 1). */
  readonly packs: readonly {
    readonly address: number;
    readonly offset: number;
    readonly groups: number;
    readonly rows: number;
    readonly k: number;
    readonly panel: number;
    readonly taps: number;
  }[];
  /** Bytes packed at compile time (int8 GEMM weights): byte offset in weights.bin and count. */
  readonly bytes?: readonly {
    readonly address: number;
    readonly offset: number;
    readonly length: number;
  }[];
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
  /** Private scratch bytes per thread of the threaded module; absent: no threaded module. */
  readonly threadScratch?: number;
}

/** The module bytes model.js carries: one per engine, and threaded ones when any GEMM splits. */
export interface ModelModules<T> {
  readonly relaxed: T;
  readonly plain: T;
  readonly threaded?: { readonly relaxed: T; readonly plain: T };
}

/** Everything model.js knows about its model. */
export interface ModelPlan {
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  /** Bytes of weights.bin. */
  readonly weightBytes: number;
  readonly relaxed: VariantPlan;
  readonly plain: VariantPlan;
}

/** Options of load() (docs/module-contract.md). */
export interface LoadOptions {
  readonly weights?: WeightsOption;
  /** Called with `{ loaded, total }` bytes as the weights are read; the last has loaded === total. */
  readonly onProgress?: ProgressCallback;
  /**
   * Threads to run on: an integer >= 1 (default 1), capped at the cores the
   * engine reports (navigator.hardwareConcurrency, else 4). Above 1, large GEMMs are split across
   * module workers sharing the memory, where SharedArrayBuffer and Worker
   * exist (browsers: cross-origin isolated pages); elsewhere, or when the
   * workers fail to start, the model silently runs on one thread. dispose()
   * stops the workers.
   */
  readonly threads?: number;
  /** Forces a module ("simd" runs the plain-SIMD fallback); default: detect relaxed-simd. */
  readonly engine?: "relaxed-simd" | "simd";
}

/** What load() resolves to. */
export interface LoadedModel {
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  /** "relaxed-simd" or "simd": which module runs. */
  readonly engine: string;
  /** Threads that actually run (1 after a fallback). */
  readonly threads: number;
  run(input: RunInput): Promise<Float32Array | Record<string, Float32Array>>;
  dispose(): void;
}

// A module whose one function computes f32x4.relaxed_madd of three zero vectors: it
// validates only where the engine has relaxed-simd.
const ZEROS = "fd0c" + "00".repeat(16);
const RELAXED_PROBE = "0061736d01000000010501600001" + "7b03020100" + "0a3d013b00" +
  ZEROS.repeat(3) +
  "fd85020b";

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(
    { length: hex.length / 2 },
    (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16),
  );
}

/** True when this engine runs relaxed-simd (Deno, Chrome, Node 20 with its flag). */
export function hasRelaxedSimd(): boolean {
  try {
    return WebAssembly.validate(hexBytes(RELAXED_PROBE) as Uint8Array<ArrayBuffer>);
  } catch {
    return false;
  }
}

function asFloats(bytes: Uint8Array): Float32Array {
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength >>> 2);
}

/** Writes tables, copies and packed weights into a fresh instance's memory (also for profilers). */
export function place(plan: VariantPlan, memory: ArrayBuffer, weights: Float32Array): void {
  const f32 = new Float32Array(memory), i32 = new Int32Array(memory);
  for (const table of plan.tables) {
    const dims = table.dims;
    const size = dims.reduce((a, [n]) => a * n, 1);
    const index = dims.map(() => 0);
    let offset = 0;
    for (let i = 0, at = table.address >>> 2; i < size; i++) {
      i32[at + i] = offset;
      for (let d = dims.length - 1; d >= 0; d--) {
        offset += dims[d][1];
        if (++index[d] < dims[d][0]) break;
        offset -= dims[d][1] * dims[d][0];
        index[d] = 0;
      }
    }
  }
  for (const copy of plan.copies) {
    f32.set(weights.subarray(copy.offset, copy.offset + copy.length), copy.address >>> 2);
  }
  const bytes = new Uint8Array(memory);
  const file = new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength);
  for (const blob of plan.bytes ?? []) {
    bytes.set(file.subarray(blob.offset, blob.offset + blob.length), blob.address);
  }
  for (const pack of plan.packs) {
    const { groups, rows, k, panel, taps } = pack;
    const tiles = Math.ceil(rows / panel), channels = k / taps;
    let at = pack.address >>> 2;
    for (let g = 0; g < groups; g++) {
      for (let t = 0; t < tiles; t++, at += k * panel) {
        for (let r = 0; r < panel && t * panel + r < rows; r++) {
          const src = pack.offset + (g * rows + t * panel + r) * k;
          for (let kk = 0; kk < k; kk++) {
            // Tap-major k = tap * channels + c reads the stored (c, tap) order.
            const from = taps > 1 ? (kk % channels) * taps + Math.floor(kk / channels) : kk;
            f32[at + kk * panel + r] = weights[src + from];
          }
        }
      }
    }
  }
}

/** A started module: its memory and how to run it once. */
interface Started {
  readonly memory: WebAssembly.Memory;
  readonly threads: number;
  invoke(): void;
  stop(): void;
}

/** Instantiates a model from its plan, base64 modules and weights. */
export async function createModel(
  plan: ModelPlan,
  modules: ModelModules<string | Uint8Array>,
  inlineWeights: string | null,
  base: string,
  options: LoadOptions = {},
): Promise<LoadedModel> {
  const threads = threadCount(options.threads);
  const relaxed = options.engine ? options.engine === "relaxed-simd" : hasRelaxedSimd();
  const variant = relaxed ? plan.relaxed : plan.plain;
  const weights = asFloats(
    await readWeights(base, options, {
      embedded: inlineWeights,
      file: "weights.bin",
      byteLength: plan.weightBytes,
    }),
  );
  const threaded = modules.threaded &&
    (relaxed ? modules.threaded.relaxed : modules.threaded.plain);
  let started: Started | undefined;
  if (threads > 1 && threaded && variant.threadScratch && canThread()) {
    started = await startThreaded(variant, bytesOf(threaded), weights, threads);
  }
  started ??= await startSingle(
    variant,
    bytesOf(relaxed ? modules.relaxed : modules.plain),
    weights,
  );
  const { memory } = started;
  let live = true;
  return {
    inputs: plan.inputs,
    outputs: plan.outputs,
    engine: relaxed ? "relaxed-simd" : "simd",
    threads: started.threads,
    run(given: RunInput) {
      try {
        if (!live) throw new Error("refold: run() after dispose()");
        const inputs = normalizeInputs(plan.inputs, given);
        const f32 = new Float32Array(memory.buffer);
        inputs.forEach((data, i) => f32.set(data, variant.inputs[i] >>> 2));
        started!.invoke();
        const outputs = plan.outputs.map((info, i) => {
          const start = variant.outputs[i] >>> 2;
          return f32.slice(start, start + info.shape.reduce((a, d) => a * d, 1));
        });
        return Promise.resolve(shapeOutputs(plan.outputs, given, outputs));
      } catch (error) {
        return Promise.reject(error);
      }
    },
    dispose() {
      if (live) started!.stop();
      live = false;
    },
  };
}

/** Threads where the engine does not say how many cores it has. */
const FALLBACK_CORES = 4;

/** The cores this engine reports (navigator.hardwareConcurrency), or FALLBACK_CORES. */
export function hardwareThreads(): number {
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: unknown } }).navigator
    ?.hardwareConcurrency;
  return typeof cores === "number" && Number.isSafeInteger(cores) && cores >= 1
    ? cores
    : FALLBACK_CORES;
}

/**
 * load()'s `threads`, checked: a positive integer, capped at the cores, since
 * more workers than cores only wait on each other (and each costs memory).
 */
export function threadCount(requested: unknown): number {
  if (requested === undefined) return 1;
  if (typeof requested !== "number" || !Number.isInteger(requested) || requested < 1) {
    const shown = typeof requested === "number" ? String(requested) : typeof requested;
    throw new TypeError(`refold: load({ threads }) takes an integer >= 1, got ${shown}`);
  }
  return Math.min(requested, hardwareThreads());
}

function bytesOf(code: string | Uint8Array): Uint8Array<ArrayBuffer> {
  return (typeof code === "string" ? fromBase64(code) : code) as Uint8Array<ArrayBuffer>;
}

async function startSingle(
  variant: VariantPlan,
  bytes: Uint8Array<ArrayBuffer>,
  weights: Float32Array,
): Promise<Started> {
  const instance = await WebAssembly.instantiate(await WebAssembly.compile(bytes));
  const memory = instance.exports.memory as WebAssembly.Memory;
  place(variant, memory.buffer, weights);
  return { memory, threads: 1, invoke: instance.exports.run as () => void, stop() {} };
}

/**
 * The threaded module on a shared memory sized for the static layout, the
 * control block and each thread's scratch; undefined when workers cannot start.
 */
async function startThreaded(
  variant: VariantPlan,
  bytes: Uint8Array<ArrayBuffer>,
  weights: Float32Array,
  threads: number,
): Promise<Started | undefined> {
  const PAGE = 65536;
  const control = variant.pages * PAGE;
  const scratch = (tid: number) => control + CONTROL_BYTES + tid * variant.threadScratch!;
  const pages = Math.ceil(scratch(threads) / PAGE);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const module = await WebAssembly.compile(bytes);
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  (instance.exports.init as (control: number, scratch: number) => void)(control, scratch(0));
  place(variant, memory.buffer, weights);
  let pool: ThreadPool;
  try {
    pool = await startWorkers(module, memory, { threads, control, scratch });
  } catch {
    return undefined;
  }
  const block = new Int32Array(memory.buffer, control, 4);
  const run = instance.exports.run as (tid: number, threads: number) => void;
  return {
    memory,
    threads,
    invoke() {
      Atomics.add(block, 0, 1);
      Atomics.notify(block, 0);
      run(0, threads);
    },
    stop() {
      Atomics.store(block, 3, 1);
      Atomics.add(block, 0, 1);
      Atomics.notify(block, 0);
      pool.terminate();
    },
  };
}
