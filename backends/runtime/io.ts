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

/** `Float32Array of 12 values ([1,3,2,2])`: what an input must be, for messages. */
function expected(info: TensorInfo): string {
  const size = info.shape.reduce((a, d) => a * d, 1);
  return `a Float32Array of ${size} values (shape [${info.shape}])`;
}

/** What the caller passed instead, for messages: `a Float64Array`, `an array`, `null`. */
function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return "an array";
  if (ArrayBuffer.isView(value)) {
    const name = value.constructor.name;
    return `${/^[AEIOU]/.test(name) ? "an" : "a"} ${name}`;
  }
  if (value instanceof ArrayBuffer) return "an ArrayBuffer";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/** Checks and orders the caller's inputs; errors name the input and the expected array and shape. */
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
  // Another typed array or a plain array is a wrong array, not a record whose keys are "0", "1"...
  const other: unknown = given;
  if (
    other === null || typeof other !== "object" || Array.isArray(other) ||
    ArrayBuffer.isView(other) || other instanceof ArrayBuffer
  ) {
    if (infos.length === 1) {
      throw new TypeError(
        `refold: input "${infos[0].name}" must be ${expected(infos[0])}, got ${
          describeValue(other)
        }`,
      );
    }
    throw new TypeError(
      `refold: run() takes a record of name -> Float32Array for the inputs ${
        infos.map((info) => `"${info.name}"`).join(", ")
      }, got ${describeValue(other)}`,
    );
  }
  for (const name of Object.keys(given)) {
    if (!infos.some((info) => info.name === name)) {
      throw new TypeError(
        `refold: unknown input "${name}"; the inputs are ${
          infos.map((info) => `"${info.name}"`).join(", ")
        }`,
      );
    }
  }
  return infos.map((info) => checkInput(info, (given as Record<string, Float32Array>)[info.name]));
}

function checkInput(info: TensorInfo, data: unknown): Float32Array {
  const size = info.shape.reduce((a, d) => a * d, 1);
  if (data === undefined) {
    throw new TypeError(`refold: input "${info.name}" is missing; pass ${expected(info)}`);
  }
  if (!(data instanceof Float32Array)) {
    throw new TypeError(
      `refold: input "${info.name}" must be ${expected(info)}, got ${describeValue(data)}`,
    );
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
