/**
 * Runtime of the plain-JS target, bundled into model.js by esbuild. It runs
 * the program with the IR ops' own reference semantics (the one definition
 * in ir/ops), rounding every intermediate to float32 as the other targets do.
 */
import { type OpName, OPS } from "../../../ir/ops/mod.ts";
import { type ReadOptions, readWeights } from "../../runtime/files.ts";
import { normalizeInputs, type RunInput, shapeOutputs, type TensorInfo } from "../../runtime/io.ts";

/** Where a step's operand comes from. */
export type Operand =
  | { readonly input: number }
  | { readonly weight: number }
  | { readonly step: number };

/** One op application. `lastUse` lists steps whose results die after this one. */
export interface Step {
  readonly op: OpName;
  readonly attrs: Record<string, unknown>;
  readonly operands: readonly Operand[];
  readonly shape: readonly number[];
  readonly release: readonly number[];
}

/** A weight inside weights.bin: byte offset and shape. */
export interface WeightSlot {
  readonly offset: number;
  readonly shape: readonly number[];
}

/** Everything model.js knows about its model. */
export interface Program {
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  readonly outputSteps: readonly Operand[];
  readonly weights: readonly WeightSlot[];
  readonly steps: readonly Step[];
  readonly weightBytes: number;
  /** Base64 of weights.bin when it is embedded. */
  readonly embeddedWeights?: string;
}

/** Options of load(): where the weights come from, and progress as they are read. */
export type LoadOptions = ReadOptions;

interface Value {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

const sizeOf = (shape: readonly number[]) => shape.reduce((a, d) => a * d, 1);

/** Implements the module contract's load() for one program. */
export async function loadProgram(program: Program, base: string, options: LoadOptions = {}) {
  const bytes = await readWeights(base, options, {
    embedded: program.embeddedWeights,
    file: "weights.bin",
    byteLength: program.weightBytes,
  });
  const aligned = new Uint8Array(bytes).buffer;
  const weights: Value[] = program.weights.map(({ offset, shape }) => ({
    shape,
    data: new Float32Array(aligned, offset, sizeOf(shape)),
  }));
  let disposed = false;
  function run(given: RunInput) {
    if (disposed) return Promise.reject(new Error("refold: run() after dispose()"));
    try {
      const inputs = normalizeInputs(program.inputs, given)
        .map((data, i) => ({ shape: program.inputs[i].shape, data }));
      const results: (Value | undefined)[] = [];
      const read = (operand: Operand): Value =>
        "input" in operand
          ? inputs[operand.input]
          : "weight" in operand
          ? weights[operand.weight]
          : results[operand.step]!;
      program.steps.forEach((step, index) => {
        const def = OPS[step.op];
        const data = def.evaluate(step.attrs as never, step.operands.map(read), step.shape);
        results[index] = { shape: step.shape, data: Float32Array.from(data) };
        for (const dead of step.release) results[dead] = undefined;
      });
      const outputs = program.outputSteps.map((operand) => read(operand).data.slice());
      return Promise.resolve(shapeOutputs(program.outputs, given, outputs));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  return {
    inputs: program.inputs,
    outputs: program.outputs,
    run,
    dispose() {
      disposed = true;
    },
  };
}
