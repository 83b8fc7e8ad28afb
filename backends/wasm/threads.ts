/**
 * The threaded module's own functions: every thread instantiates the same
 * module on one shared memory. Workers sit in `serve`, the main thread calls
 * `run(0, n)`; split GEMMs take their share of outer tiles, the rest run on
 * thread 0 alone, and a barrier in shared memory separates a split kernel
 * from whatever reads or overwrites its data.
 *
 * Control block at `$ctrl` (four i32): +0 run generation (bumped by the main
 * thread to start workers), +4 barrier arrivals, +8 barrier generation, +12
 * quit (nonzero: `serve` returns at the next generation; Deno cannot
 * terminate a worker that is still inside wasm).
 * Thread 0 only ever spins: a browser main thread may not block in
 * `memory.atomic.wait32`. Workers spin briefly, then sleep in wait32.
 */
import { FuncBuilder, get, i32, ifElse, type ModuleBuilder, set, type Sx, sx } from "./wat.ts";

/** Spins before a worker sleeps (roughly 50-100 us): short enough not to burn a shared core. */
const SPINS = 20000;

const ctrl = sx("global.get", "$ctrl");
const load = (offset: number) => sx("i32.atomic.load", offset > 0 && `offset=${offset}`, ctrl);
const waitFor = (offset: number, expected: Sx, nanoseconds: number) =>
  sx(
    "drop",
    sx("memory.atomic.wait32", offset > 0 && `offset=${offset}`, ctrl, expected, [
      "i64.const",
      String(nanoseconds),
    ]),
  );

/** Spins (then, off thread 0, sleeps) until the i32 at `offset` differs from `seen`. */
function awaitChange(fb: FuncBuilder, offset: number, seen: string, tid: string): Sx[] {
  const spins = fb.local("spins", "i32");
  return [
    set(spins, i32(0)),
    sx(
      "block",
      "$changed",
      sx(
        "loop",
        "$spin",
        sx("br_if", "$changed", sx("i32.ne", load(offset), get(seen))),
        set(spins, sx("i32.add", get(spins), i32(1))),
        ifElse(sx("i32.ne", get(tid), i32(0)), [
          ifElse(sx("i32.gt_u", get(spins), i32(SPINS)), [
            waitFor(offset, get(seen), 100_000_000),
          ]),
        ]),
        sx("br", "$spin"),
      ),
    ),
  ];
}

/** Adds the globals, `init`, the barrier and `serve` to a threaded module. */
export function addThreadSupport(mod: ModuleBuilder): void {
  mod.globals.push(
    sx("global", "$ctrl", sx("mut", "i32"), i32(0)),
    sx("global", "$tbase", sx("mut", "i32"), i32(0)),
  );
  const init = new FuncBuilder("init", "init");
  init.param("ctrl", "i32");
  init.param("tbase", "i32");
  init.emit(sx("global.set", "$ctrl", get("ctrl")), sx("global.set", "$tbase", get("tbase")));
  mod.add(init);

  const barrier = new FuncBuilder("barrier");
  const tid = barrier.param("tid", "i32"), n = barrier.param("n", "i32");
  const gen = barrier.local("gen", "i32");
  barrier.emit(
    set(gen, load(8)),
    ifElse(
      sx(
        "i32.eq",
        sx("i32.atomic.rmw.add", "offset=4", ctrl, i32(1)),
        sx("i32.sub", get(n), i32(1)),
      ),
      [
        sx("i32.atomic.store", "offset=4", ctrl, i32(0)),
        sx("drop", sx("i32.atomic.rmw.add", "offset=8", ctrl, i32(1))),
        sx("drop", sx("memory.atomic.notify", "offset=8", ctrl, i32(-1))),
      ],
      awaitChange(barrier, 8, gen, tid),
    ),
  );
  mod.add(barrier);

  // The main thread bumps the run generation once all workers reported ready,
  // so a worker starts from generation 0 and never misses its first run.
  const serve = new FuncBuilder("serve", "serve");
  const stid = serve.param("tid", "i32"), sn = serve.param("n", "i32");
  const seen = serve.local("seen", "i32");
  serve.emit(
    sx(
      "loop",
      "$forever",
      ...awaitChange(serve, 0, seen, stid),
      sx("if", load(12), sx("then", sx("return"))),
      set(seen, load(0)),
      sx("call", "$run", get(stid), get(sn)),
      sx("br", "$forever"),
    ),
  );
  mod.add(serve);
}

/**
 * The threaded `run(tid, n)`: split kernels get `[tiles*tid/n, tiles*(tid+1)/n)`
 * and are fenced by barriers; the others run on thread 0.
 */
export function threadedRun(
  functions: readonly string[],
  split: ReadonlyMap<number, number>,
): FuncBuilder {
  const run = new FuncBuilder("run", "run");
  const tid = run.param("tid", "i32"), n = run.param("n", "i32");
  const barrier = sx("call", "$barrier", get(tid), get(n));
  const bound = (tiles: number, at: Sx) => sx("i32.div_u", sx("i32.mul", i32(tiles), at), get(n));
  let alone: Sx[] = [];
  functions.forEach((name, index) => {
    const tiles = split.get(index);
    if (tiles === undefined) {
      alone.push(sx("call", `$${name}`));
      return;
    }
    // Workers must see what thread 0 wrote since the last barrier.
    if (alone.length > 0) run.emit(ifElse(sx("i32.eqz", get(tid)), alone), barrier);
    alone = [];
    run.emit(
      sx("call", `$${name}`, bound(tiles, get(tid)), bound(tiles, sx("i32.add", get(tid), i32(1)))),
      barrier,
    );
  });
  if (alone.length > 0) run.emit(ifElse(sx("i32.eqz", get(tid)), alone));
  return run;
}
