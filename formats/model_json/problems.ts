/**
 * Collecting problems so that a model file reports all of them at once, and
 * the JSON-path notation (`$.nodes[3].attrs.groups`) every message uses.
 */
import { RefoldError } from "../../ir/mod.ts";

/** A step into a JSON value: a property name or an array index. */
export type PathStep = string | number;

/** `$.nodes[3].attrs["conv.weight"]`. */
export function formatPath(path: readonly PathStep[]): string {
  let out = "$";
  for (const step of path) {
    if (typeof step === "number") out += `[${step}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(step)) out += `.${step}`;
    else out += `[${JSON.stringify(step)}]`;
  }
  return out;
}

/** Problems shown in one message; the rest are counted (all stay on `problems`). */
const SHOWN = 8;

/** A model file with one or more problems. The message is one line naming the file. */
export class ModelError extends RefoldError {
  /** Every problem, each `where: what`. */
  readonly problems: readonly string[];
  constructor(file: string, problems: readonly string[]) {
    const shown = problems.slice(0, SHOWN).join("; ");
    const rest = problems.length > SHOWN ? `; and ${problems.length - SHOWN} more problems` : "";
    super(shown + rest, { file });
    this.name = "ModelError";
    this.problems = problems;
  }
}

/** Accumulates `where: what` problems of one file. */
export class Problems {
  readonly #list: string[] = [];
  constructor(readonly file: string) {}

  /** Records a problem at a JSON path (or any other `where`, such as `node "conv1"`). */
  add(where: readonly PathStep[] | string, problem: string): void {
    this.#list.push(`${typeof where === "string" ? where : formatPath(where)}: ${problem}`);
  }

  /** How many problems so far. */
  get count(): number {
    return this.#list.length;
  }

  /** Throws a ModelError when any problem was recorded. */
  throwIfAny(): void {
    if (this.#list.length > 0) throw new ModelError(this.file, this.#list);
  }
}
