/**
 * Graph -> everything model.js needs: the plan's program, both module
 * variants (WAT and assembled bytes), weights.bin and the runtime plan that
 * places weights and tables in memory. The backend bundles this into files;
 * tests and the benchmark instantiate it directly.
 */
import type { Graph } from "../../ir/mod.ts";
import {
  type Kernel,
  planProgram,
  type Program,
  type TargetCaps,
  type Value,
} from "../plan/mod.ts";
import { assemble } from "./assemble.ts";
import { generateVariant, type VariantCode } from "./codegen.ts";
import { VARIANTS } from "./kernels/mod.ts";
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
  readonly weights: Uint8Array;
  readonly notes: readonly string[];
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
}

/** Lowers, generates and assembles `graph` for the wasm target. */
export function compileModel(graph: Graph, options: CompileOptions = {}): CompiledModel {
  const program = planProgram(graph, WASM_CAPS);
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
  const weights = new Float32Array(floats);
  for (const [value, offset] of offsets) weights.set(value.data!, offset);
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
    relaxed: variantPlan(relaxed, program, offsets),
    plain: variantPlan(plain, program, offsets),
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
    weights: new Uint8Array(weights.buffer),
    notes: notesOf(program, relaxed, plain, modules),
  };
}

function variantPlan(
  code: VariantCode,
  program: Program,
  offsets: ReadonlyMap<Value, number>,
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
    inputs: program.inputs.map(({ value }) => res.value(value)),
    outputs: program.outputs.map(({ value }) => res.value(value)),
    ...(code.threaded ? { threadScratch: code.threaded.scratch } : {}),
  };
}

/** The kind a kernel is counted as in the notes. */
function kindOf(kernel: Kernel): string {
  if (kernel.kind === "pool") return `${kernel.mode}pool`;
  if (kernel.kind === "gemm") return kernel.shape.op;
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
