/**
 * Worker threads for the threaded module: n - 1 module workers (from a
 * blob: URL, so model.js stays one file) instantiate the same module on the
 * same shared memory and wait in its `serve` export. A run bumps the run
 * generation in the control block; the module's barriers do the rest.
 * Where SharedArrayBuffer or Worker is missing (or a browser page is not
 * cross-origin isolated) `canThread` is false and the model runs on one thread.
 */

/** Bytes of the control block (run generation, barrier arrivals, barrier generation). */
export const CONTROL_BYTES = 64;

/** True when this engine can share a memory with module workers. */
export function canThread(): boolean {
  const global = globalThis as { crossOriginIsolated?: boolean; Worker?: unknown };
  return typeof SharedArrayBuffer === "function" && typeof global.Worker === "function" &&
    global.crossOriginIsolated !== false;
}

// The worker reports errors instead of throwing, so load() can reject with them; once
// ready it blocks in serve() for good (terminate() ends it).
const WORKER_SOURCE = `self.onmessage = async (event) => {
  const { module, memory, tid, threads, control, scratch } = event.data;
  let instance;
  try {
    instance = await WebAssembly.instantiate(module, { env: { memory } });
    instance.exports.init(control, scratch);
  } catch (error) {
    self.postMessage({ error: String(error) });
    return;
  }
  self.postMessage({ ready: true });
  instance.exports.serve(tid, threads);
};`;

/** Started workers; `terminate` stops them. */
export interface ThreadPool {
  terminate(): void;
}

/** Starts `threads - 1` workers serving `module`; resolves once every one is ready. */
export async function startWorkers(
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
  layout: { threads: number; control: number; scratch: (tid: number) => number },
): Promise<ThreadPool> {
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
  const workers: Worker[] = [];
  try {
    const ready = [];
    for (let tid = 1; tid < layout.threads; tid++) {
      const worker = new Worker(url, { type: "module" });
      workers.push(worker);
      ready.push(
        new Promise<void>((resolve, reject) => {
          worker.onmessage = (event) => {
            if (event.data?.ready) resolve();
            else reject(new Error(`refold: worker thread failed: ${event.data?.error}`));
          };
          worker.onerror = (event) => {
            event.preventDefault();
            reject(new Error(`refold: worker thread failed: ${event.message}`));
          };
        }),
      );
      worker.postMessage({
        module,
        memory,
        tid,
        threads: layout.threads,
        control: layout.control,
        scratch: layout.scratch(tid),
      });
    }
    await Promise.all(ready);
  } catch (error) {
    for (const worker of workers) worker.terminate();
    throw error;
  } finally {
    URL.revokeObjectURL(url);
  }
  return {
    terminate() {
      for (const worker of workers) worker.terminate();
    },
  };
}
