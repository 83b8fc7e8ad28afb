/**
 * Runtime glue bundled into every generated model.js: the module contract's
 * input and output handling, identical for every backend.
 */

/** A model input or output as model.js describes it. */
export interface TensorInfo {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: "float32";
}

/** What run() accepts: one array for a single-input model, or a record by name. */
export type RunInput = Float32Array | Readonly<Record<string, Float32Array>>;

/** Checks and orders the caller's inputs; errors name the input and the expected size. */
export function normalizeInputs(infos: readonly TensorInfo[], given: RunInput): Float32Array[] {
  if (given instanceof Float32Array) {
    if (infos.length !== 1) {
      throw new TypeError(
        `refold: this model has ${infos.length} inputs (${
          infos.map((i) => i.name).join(", ")
        }); pass a record of name -> Float32Array`,
      );
    }
    return [checkInput(infos[0], given)];
  }
  if (given === null || typeof given !== "object") {
    throw new TypeError("refold: run() takes a Float32Array or a record of Float32Arrays");
  }
  for (const name of Object.keys(given)) {
    if (!infos.some((info) => info.name === name)) {
      throw new TypeError(`refold: unknown input "${name}"`);
    }
  }
  return infos.map((info) => checkInput(info, (given as Record<string, Float32Array>)[info.name]));
}

function checkInput(info: TensorInfo, data: Float32Array | undefined): Float32Array {
  const size = info.shape.reduce((a, d) => a * d, 1);
  if (!(data instanceof Float32Array)) {
    throw new TypeError(`refold: input "${info.name}" must be a Float32Array`);
  }
  if (data.length !== size) {
    throw new TypeError(
      `refold: input "${info.name}" has ${data.length} values; shape [${info.shape}] needs ${size}`,
    );
  }
  return data;
}

/** Shapes outputs as the caller passed inputs: an array for one output, else a record. */
export function shapeOutputs(
  infos: readonly TensorInfo[],
  given: RunInput,
  outputs: Float32Array[],
): Float32Array | Record<string, Float32Array> {
  if (given instanceof Float32Array && infos.length === 1) return outputs[0];
  return Object.fromEntries(infos.map((info, i) => [info.name, outputs[i]]));
}
