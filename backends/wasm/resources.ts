/**
 * What kernels need besides their code, and where it lives in linear memory:
 * index tables (filled at load from their dims), weights stored as they are,
 * weights packed at load into a kernel's panel layout, bytes packed at
 * compile time (int8 weights), and per-kernel scratch.
 * Kernel generators register needs in a first pass; `layoutMemory` then
 * assigns addresses and the second pass reads them back.
 *
 * Memory map: [0, 64) zeros; [64, 320) the GEMM tile; tables; weights; int8
 * weights; the activation arena (planned by liveness in arena.ts).
 */
import type { Dim, Program, Value } from "../plan/mod.ts";
import { planArena, SLACK } from "./arena.ts";

/** Address of the GEMM accumulator tile the microkernels write and epilogues read. */
export const TILE = 64;
const TABLE_START = 320;

/** A weight packed at load into [group][tile][k][panel] with zero-filled rows. */
export interface PackSpec {
  readonly value: Value;
  readonly groups: number;
  /** Rows per group (output features or channels). */
  readonly rows: number;
  /** Contraction length per group (the weight's row length). */
  readonly k: number;
  /** Rows per tile: the microkernel's MR, or 8 for vector panels. */
  readonly panel: number;
  /** Conv taps (kh * kw) when k is stored tap-major (tap, channel) instead of (channel, tap). */
  readonly taps?: number;
}

const align = (n: number, to = 64) => Math.ceil(n / to) * to;

/** Registry of everything kernels place in memory, then its addresses. */
export class Resources {
  readonly tables = new Map<string, { dims: readonly Dim[]; size: number; address: number }>();
  readonly canonical = new Map<Value, { address: number }>();
  readonly packs = new Map<string, { spec: PackSpec; bytes: number; address: number }>();
  /** Bytes prepared at compile time (int8 weights), copied in place at load. */
  readonly blobs = new Map<string, { bytes: Uint8Array; address: number }>();
  readonly scratch = new Map<number, number>();
  #values = new Map<Value, number>();
  #scratchAt = new Map<number, number>();
  /** Total memory bytes once laid out. */
  size = 0;
  /** Peak bytes of the activation arena. */
  arenaPeak = 0;

  /** Registers (or looks up) the table listing `dims`' offsets; returns its address. */
  table(dims: readonly Dim[]): number {
    const key = JSON.stringify(dims);
    let entry = this.tables.get(key);
    if (!entry) {
      entry = { dims, size: dims.reduce((a, d) => a * d.size, 1), address: -1 };
      this.tables.set(key, entry);
    }
    return entry.address;
  }

  /** Registers a weight read in its stored layout; returns its address. */
  weight(value: Value): number {
    if (value.kind !== "weight") return this.value(value);
    let entry = this.canonical.get(value);
    if (!entry) this.canonical.set(value, entry = { address: -1 });
    return entry.address;
  }

  /** Registers a packed weight; returns its address. */
  packed(spec: PackSpec): number {
    const key = `${spec.value.id}/${spec.groups}/${spec.rows}/${spec.k}/${spec.panel}/${
      spec.taps ?? 1
    }`;
    let entry = this.packs.get(key);
    if (!entry) {
      const tiles = Math.ceil(spec.rows / spec.panel);
      const bytes = spec.groups * tiles * spec.k * spec.panel * 4;
      this.packs.set(key, entry = { spec, bytes, address: -1 });
    }
    return entry.address;
  }

  /** Registers compile-time bytes under `key` (made once by `make`); returns their address. */
  blob(key: string, make: () => Uint8Array): number {
    let entry = this.blobs.get(key);
    if (!entry) this.blobs.set(key, entry = { bytes: make(), address: -1 });
    return entry.address;
  }

  /** Registers scratch bytes for kernel `index`; returns its address. */
  scratchFor(index: number, bytes: number): number {
    this.scratch.set(index, Math.max(this.scratch.get(index) ?? 0, bytes));
    return this.#scratchAt.get(index) ?? -1;
  }

  /** The address of a value: weights region or arena. */
  value(value: Value): number {
    if (value.kind === "weight") return this.weight(value);
    return this.#values.get(value) ?? -1;
  }

  /** Assigns addresses to every registered resource and arena value. */
  layout(program: Program): void {
    let at = TABLE_START;
    for (const entry of this.tables.values()) {
      entry.address = at;
      at = align(at + (entry.size + 8) * 4);
    }
    for (const [value, entry] of this.canonical) {
      entry.address = at;
      at = align(at + value.size * 4 + SLACK);
    }
    for (const entry of this.packs.values()) {
      entry.address = at;
      at = align(at + entry.bytes + SLACK);
    }
    for (const entry of this.blobs.values()) {
      entry.address = at;
      at = align(at + entry.bytes.byteLength + SLACK);
    }
    const arena = planArena(program, this.scratch);
    this.#values = new Map([...arena.values].map(([value, offset]) => [value, at + offset]));
    this.#scratchAt = new Map([...arena.scratch].map(([index, offset]) => [index, at + offset]));
    this.arenaPeak = arena.peak;
    this.size = at + arena.peak;
  }
}
