/**
 * Which GEMMs compute in int8 (`--quantize int8`), decided once for every
 * target from a rule. A GEMM (linear or conv2d) computes in int8 when all of:
 *
 * - its weight is a constant (a computed kernel has no compile-time scales);
 * - it does not read a graph input (the first layer sees raw pixels, whose
 *   range is the model's business, not the quantizer's), unless the rule
 *   keeps first layers in int8;
 * - it does at least `minMacs` multiply-adds per run (default 65536): the
 *   per-row activation quantization costs about 3 passes over A, which a
 *   tiny GEMM does not earn back;
 * - its weight's name is not listed in `skip`;
 * - the target computes that GEMM shape in int8 (`supports`).
 *
 * Everything else stays f32; each decision carries its reason for the report.
 */
import { RefoldError } from "../../ir/mod.ts";
import { loadsOf } from "./expr.ts";
import type { GemmKernel, Kernel, Program } from "./kernel.ts";

/** GEMMs with fewer multiply-adds per run stay f32 by default. */
export const DEFAULT_MIN_INT8_MACS = 65536;

/** The rule (see the header). */
export interface QuantizeRule {
  /** Weight names whose GEMMs stay f32. */
  readonly skip?: readonly string[];
  /** Default DEFAULT_MIN_INT8_MACS. */
  readonly minMacs?: number;
  /** Quantize GEMMs that read a graph input too (default false: they stay f32). */
  readonly first?: boolean;
  /** Why the target cannot compute `kernel` in int8 (undefined: it can). */
  readonly unsupported: (kernel: GemmKernel) => string | undefined;
}

/** What was decided for one GEMM. */
export interface Int8Decision {
  /** The weight's name, or the kernel's label when the weight is computed. */
  readonly name: string;
  readonly macs: number;
  readonly int8: boolean;
  /** Why it stays f32 (empty when int8). */
  readonly reason: string;
}

/** Multiply-adds of one run of a GEMM. */
export function gemmMacs(kernel: GemmKernel): number {
  return kernel.m * kernel.k * kernel.n * kernel.groups;
}

function readsGraphInput(kernel: GemmKernel): boolean {
  return loadsOf(kernel.a).some((leaf) => leaf.operand.value.kind === "input");
}

function decide(kernel: GemmKernel, rule: QuantizeRule, skip: ReadonlySet<string>): Int8Decision {
  const macs = gemmMacs(kernel);
  const name = kernel.w.kind === "constant" ? kernel.w.value.name ?? kernel.label : kernel.label;
  const minMacs = rule.minMacs ?? DEFAULT_MIN_INT8_MACS;
  let reason = "";
  if (kernel.w.kind !== "constant") reason = "its weight is computed";
  else if (skip.has(name)) reason = "listed in --quantize-skip";
  else if (!rule.first && readsGraphInput(kernel)) reason = "first layer (reads a graph input)";
  else if (macs < minMacs) reason = `${macs} multiply-adds < ${minMacs}`;
  else reason = rule.unsupported(kernel) ?? "";
  return { name, macs, int8: reason === "", reason };
}

/** `program` with the GEMMs the rule picks computing in int8, and every GEMM's decision. */
export function chooseInt8(
  program: Program,
  rule: QuantizeRule,
): { program: Program; decisions: Int8Decision[] } {
  const skip = new Set(rule.skip ?? []);
  const names = new Set<string>();
  const decisions: Int8Decision[] = [];
  const kernels = program.kernels.map((kernel): Kernel => {
    if (kernel.kind !== "gemm") return kernel;
    if (kernel.w.kind === "constant" && kernel.w.value.name) names.add(kernel.w.value.name);
    const decision = decide(kernel, rule, skip);
    decisions.push(decision);
    return decision.int8 ? { ...kernel, arithmetic: "int8" } : kernel;
  });
  const unknown = [...skip].filter((name) => !names.has(name));
  if (unknown.length > 0) {
    const known = [...names].slice(0, 8).map((name) => JSON.stringify(name)).join(", ");
    throw new RefoldError(
      `--quantize-skip: no linear/conv2d weight named ${JSON.stringify(unknown[0])} in graph ` +
        `"${program.name}" (weights: ${known}${names.size > 8 ? ", ..." : ""})`,
    );
  }
  return { program: { ...program, kernels }, decisions };
}
