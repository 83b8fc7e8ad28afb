/**
 * The flags that choose how weights are stored and computed: --weight-dtype,
 * --quantize and the wasm target's int8 rule (--quantize-skip,
 * --quantize-min-macs, --quantize-first), checked together before the model
 * is read.
 */
import { RefoldError, WEIGHT_DTYPES, type WeightDType } from "../ir/mod.ts";
import type { Target } from "./args.ts";

/** The wasm target's int8 rule, as given. */
export interface QuantizeRule {
  readonly quantizeSkip?: readonly string[];
  readonly quantizeMinMacs?: number;
  readonly quantizeFirst?: boolean;
}

/** What the storage flags decide. */
export interface StorageFlags extends QuantizeRule {
  /** --weight-dtype; undefined when not given (f32, or f16 with --f16). */
  readonly weightDType?: WeightDType;
  readonly quantize?: "int8";
}

/** Parses and cross-checks the storage flags of `values` for `target`. */
export function parseStorageFlags(
  values: {
    readonly f16: boolean;
    readonly "weight-dtype"?: string;
    readonly quantize?: string;
    readonly "quantize-skip"?: string;
    readonly "quantize-min-macs"?: string;
    readonly "quantize-first"?: boolean;
  },
  target: Target,
): StorageFlags {
  const weightDType = parseWeightDType(values["weight-dtype"], values.f16);
  const quantize = parseQuantize(values.quantize, target);
  if (quantize && target === "webgpu" && (values.f16 || (weightDType ?? "int8") !== "int8")) {
    throw new RefoldError(
      `--quantize int8 on webgpu stores int8 weights (f32 compute); ` +
        `${values.f16 ? "--f16" : `--weight-dtype ${weightDType}`} contradicts it`,
    );
  }
  return { weightDType, quantize, ...parseQuantizeRule(values, target, quantize) };
}

/** --weight-dtype: every target stores f32, f16 and int8; --f16 allows f16 only. */
function parseWeightDType(value: string | undefined, f16: boolean): WeightDType | undefined {
  if (value === undefined) return undefined;
  if (!(WEIGHT_DTYPES as readonly string[]).includes(value)) {
    throw new RefoldError(
      `unknown --weight-dtype "${value}"; use one of ${WEIGHT_DTYPES.join(", ")}`,
    );
  }
  if (f16 && value !== "f16") {
    throw new RefoldError(`--f16 stores weights as f16; --weight-dtype ${value} contradicts it`);
  }
  return value as WeightDType;
}

/** --quantize int8: int8 compute on onnx and wasm; int8 storage with f32 compute on webgpu. */
function parseQuantize(value: string | undefined, target: Target): "int8" | undefined {
  if (value === undefined) return undefined;
  if (value !== "int8") {
    throw new RefoldError(`unknown --quantize "${value}"; the only one is int8`);
  }
  if (target === "js") {
    throw new RefoldError(
      "--quantize int8: the js target computes in f32; use --weight-dtype int8 to store int8 " +
        "weights, or --target onnx for int8 compute",
    );
  }
  return "int8";
}

/** The wasm target's int8 rule flags (plan/quantize.ts); they need --quantize int8 there. */
function parseQuantizeRule(
  values: {
    "quantize-skip"?: string;
    "quantize-min-macs"?: string;
    "quantize-first"?: boolean;
  },
  target: Target,
  quantize: "int8" | undefined,
): QuantizeRule {
  const given = ["quantize-skip", "quantize-min-macs", "quantize-first"].filter((flag) =>
    values[flag as keyof typeof values] !== undefined &&
    values[flag as keyof typeof values] !== false
  );
  if (given.length === 0) return {};
  if (!quantize || target !== "wasm") {
    throw new RefoldError(`--${given[0]} applies with --quantize int8 --target wasm only`);
  }
  const rule: { quantizeSkip?: string[]; quantizeMinMacs?: number; quantizeFirst?: boolean } = {};
  const skip = values["quantize-skip"];
  if (skip !== undefined) {
    rule.quantizeSkip = skip.split(",").map((name) => name.trim()).filter((name) => name !== "");
  }
  const minMacs = values["quantize-min-macs"];
  if (minMacs !== undefined) {
    const n = Number(minMacs);
    if (minMacs.trim() === "" || !Number.isSafeInteger(n) || n < 0) {
      throw new RefoldError(`--quantize-min-macs must be a whole number >= 0, got "${minMacs}"`);
    }
    rule.quantizeMinMacs = n;
  }
  if (values["quantize-first"]) rule.quantizeFirst = true;
  return rule;
}
