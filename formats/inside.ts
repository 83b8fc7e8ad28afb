/**
 * The model's folder as a boundary: a model file may name other files (the
 * safetensors weights of model.json, ONNX external data), and those must lie
 * inside the folder that holds the model, after every symbolic link is
 * resolved. Otherwise a model could make refold read, and embed in the
 * generated module, any file the user can read (`leak -> /etc/passwd`).
 */
import { isAbsolute, join, normalize, relative, sep } from "node:path";
import { RefoldError } from "../ir/mod.ts";

/** True when `name`, as written in a model file, stays in its folder (no root, no `..`). */
export function staysInside(name: string): boolean {
  return !isAbsolute(name) && !/^[A-Za-z]:/.test(name) &&
    !normalize(name).split(/[\\/]/).includes("..");
}

/**
 * The real path of `name` relative to `folder`, checked to lie inside the real
 * `folder`; `undefined` when it does not exist. `describe` says what the file
 * is, for the message: `external data "w.bin"`.
 */
export function realPathInside(
  folder: string,
  name: string,
  options: { describe: string; file: string },
): string | undefined {
  const fail = (problem: string): never => {
    throw new RefoldError(`${options.describe} ${problem}`, { file: options.file });
  };
  if (!staysInside(name)) fail("leaves the model's folder");
  let root: string, real: string;
  try {
    root = Deno.realPathSync(folder);
    real = Deno.realPathSync(join(folder, name));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new RefoldError(
      `${options.describe}: cannot resolve it: ${
        (error as Error).message.replace(/ \(os error \d+\).*$/s, "")
      }`,
      { file: options.file },
    );
  }
  const path = relative(root, real);
  if (isAbsolute(path) || path.split(sep)[0] === "..") {
    fail("leads out of the model's folder through a symbolic link");
  }
  return real;
}
