/**
 * Graph -> everything model.js needs: the plan's program, both module
 * variants (WAT and assembled bytes), weights.bin and the runtime plan that
 * places weights and tables in memory. The backend bundles this into files;
 * tests and the benchmark instantiate it directly.
 */
import type { Graph } from "../../ir/mod.ts";
import {
  chooseInt8,
  type Int8Decision,
  type Kernel,
  planProgram,
  type Program,
  type QuantizeRule,
  type TargetCaps,
  type Value,
} from "../plan/mod.ts";
import { assemble } from "./assemble.ts";
import { generateVariant, type VariantCode } from "./codegen.ts";
import { int8Unsupported, VARIANTS } from "./kernels/mod.ts";
import type { ModelModules, ModelPlan, VariantPlan } from "./runtime/model_runtime.ts";

/**
 * What the wasm kernels address: one view layer (index tables hold one
 * layer's offsets), convs and pools with one stride per input axis, no
 * binding limit, and prologues in linear layers (their A is gathered per
 * tile anyway; convs read their input in place).
 */
export const WASM_CAPS: TargetCaps = {
  name: "wasm",
  maxBindings: Infinity,
  prologue: new Set(["linear"]),
  viewLayers: 1,
  stridedWindows: true,
};

/** A compiled model, before bundling. */
export interface CompiledModel {
  readonly program: Program;
  readonly plan: ModelPlan;
  readonly wat: { readonly relaxed: string; readonly plain: string };
  readonly modules: ModelModules<Uint8Array>;
  /** weights.bin: the f32 weights, then the int8 GEMM weights (see `layout`). */
  readonly weights: Uint8Array;
  /** Which weight each stretch of `weights` holds, for narrower storage (wasm/mod.ts). */
  readonly layout: WeightLayout;
  /** With `quantize`: what was decided for each GEMM. */
  readonly int8?: readonly Int8Decision[];
  readonly notes: readonly string[];
}

/** The stretches of weights.bin, in f32 units: f32 weights, then int8 bytes as they are. */
export interface WeightLayout {
  /** Each f32 weight value and its first float. */
  readonly values: readonly { readonly value: Value; readonly at: number }[];
  /** The floats the f32 weights take; the int8 bytes follow, `int8Bytes` of them (4-aligned). */
  readonly floats: number;
  readonly int8Bytes: number;
}

/** Options of compileModel. */
export interface CompileOptions {
  /** Run binaryen's optimizer on the modules (default true). */
  readonly optimize?: boolean;
  /**
   * GEMMs of at least this many flops are split across threads in the
   * threaded modules (default 2e6: about 40 us single-threaded, well above
   * a barrier's cost); Infinity emits no threaded modules.
   */
  readonly threadMinFlops?: number;
  /** Compute the GEMMs this rule picks in int8 (plan/quantize.ts); the target says what it can. */
  readonly quantize?: Omit<QuantizeRule, "unsupported">;
}

/** Lowers, generates and assembles `graph` for the wasm target. */
export function compileModel(graph: Graph, options: CompileOptions = {}): CompiledModel {
  let program = planProgram(graph, WASM_CAPS);
  let int8: Int8Decision[] | undefined;
  if (options.quantize) {
    ({ program, decisions: int8 } = chooseInt8(program, {
      ...options.quantize,
      unsupported: int8Unsupported,
    }));
  }
  const minFlops = options.threadMinFlops ?? 2e6;
  const threadMinFlops = Number.isFinite(minFlops) ? minFlops : undefined;
  const relaxed = generateVariant(program, VARIANTS.relaxed, { threadMinFlops });
  const plain = generateVariant(program, VARIANTS.plain, { threadMinFlops });
  const offsets = new Map<Value, number>();
  let floats = 0;
  for (const code of [relaxed, plain]) {
    const used = [
      ...code.res.canonical.keys(),
      ...[...code.res.packs.values()].map((p) => p.spec.value),
    ];
    for (const value of used) {
      if (!offsets.has(value)) {
        offsets.set(value, floats);
        floats += value.size;
      }
    }
  }
  // int8 weights, packed at compile time; both variants register the same bytes.
  const blobs = new Map<string, { bytes: Uint8Array; offset: number }>();
  let blobBytes = 0;
  for (const code of [relaxed, plain]) {
    for (const [key, { bytes }] of code.res.blobs) {
      if (blobs.has(key)) continue;
      blobs.set(key, { bytes, offset: floats * 4 + blobBytes });
      blobBytes += Math.ceil(bytes.byteLength / 4) * 4;
    }
  }
  const weights = new Float32Array(floats + blobBytes / 4);
  for (const [value, offset] of offsets) weights.set(value.data!, offset);
  const weightBytes = new Uint8Array(weights.buffer);
  for (const { bytes, offset } of blobs.values()) weightBytes.set(bytes, offset);
  const info = (entries: Program["inputs"]) =>
    entries.map(({ name, value }) => ({
      name,
      shape: [...value.shape],
      dtype: "float32" as const,
    }));
  const plan: ModelPlan = {
    inputs: info(program.inputs),
    outputs: info(program.outputs),
    weightBytes: weights.byteLength,
    relaxed: variantPlan(relaxed, program, offsets, blobs),
    plain: variantPlan(plain, program, offsets, blobs),
  };
  const modules: ModelModules<Uint8Array> = {
    relaxed: assemble(relaxed.wat, options),
    plain: assemble(plain.wat, options),
    ...(relaxed.threaded && plain.threaded
      ? {
        threaded: {
          relaxed: assemble(relaxed.threaded.wat, { ...options, threads: true }),
          plain: assemble(plain.threaded.wat, { ...options, threads: true }),
        },
      }
      : {}),
  };
  return {
    program,
    plan,
    wat: { relaxed: relaxed.wat, plain: plain.wat },
    modules,
    weights: weightBytes,
    layout: {
      values: [...offsets].map(([value, at]) => ({ value, at })),
      floats,
      int8Bytes: blobBytes,
    },
    ...(int8 ? { int8 } : {}),
    notes: notesOf(program, relaxed, plain, modules),
  };
}

function variantPlan(
  code: VariantCode,
  program: Program,
  offsets: ReadonlyMap<Value, number>,
  blobs: ReadonlyMap<string, { readonly offset: number }>,
): VariantPlan {
  const { res } = code;
  return {
    pages: code.pages,
    tables: [...res.tables.values()].map((table) => ({
      address: table.address,
      dims: table.dims.map((dim) => [dim.size, dim.stride * 4] as const),
    })),
    copies: [...res.canonical].map(([value, entry]) => ({
      address: entry.address,
      offset: offsets.get(value)!,
      length: value.size,
    })),
    packs: [...res.packs.values()].map(({ spec, address }) => ({
      address,
      offset: offsets.get(spec.value)!,
      groups: spec.groups,
      rows: spec.rows,
      k: spec.k,
      panel: spec.panel,
      taps: spec.taps ?? 1,
    })),
    bytes: [...res.blobs].map(([key, { bytes, address }]) => ({
      address,
      offset: blobs.get(key)!.offset,
      length: bytes.byteLength,
    })),
    inputs: program.inputs.map(({ value }) => res.value(value)),
    outputs: program.outputs.map(({ value }) => res.value(value)),
    ...(code.threaded ? { threadScratch: code.threaded.scratch } : {}),
  };
}

/** The kind a kernel is counted as in the notes. */
function kindOf(kernel: Kernel): string {
  if (kernel.kind === "pool") return `${kernel.mode}pool`;
  if (kernel.kind === "gemm") {
    return kernel.arithmetic === "int8" ? `int8 ${kernel.shape.op}` : kernel.shape.op;
  }
  return "elementwise";
}

function notesOf(
  program: Program,
  relaxed: VariantCode,
  plain: VariantCode,
  modules: CompiledModel["modules"],
): string[] {
  const counts = new Map<string, number>();
  for (const kernel of program.kernels) {
    counts.set(kindOf(kernel), (counts.get(kindOf(kernel)) ?? 0) + 1);
  }
  const kinds = [...counts].map(([kind, count]) => `${count} ${kind}`).join(", ");
  return [
    `peak activation memory: ${relaxed.res.arenaPeak} bytes (plain SIMD module: ${plain.res.arenaPeak})`,
    `kernels: ${kinds}`,
    `modules: ${modules.relaxed.length} bytes relaxed-simd, ${modules.plain.length} bytes plain ` +
    `SIMD; linear memory ${relaxed.pages * 64} KiB`,
  ];
}
