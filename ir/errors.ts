/**
 * Errors that refold reports to users. Every error carries enough context to
 * name the file, the node and the problem in one line; the CLI prints
 * `error.message` and never a stack trace.
 */

/** Where a problem was found: any subset of file, JSON path / node, and op. */
export interface ErrorLocation {
  /** The model file (model.json, safetensors, .onnx) the problem is in. */
  file?: string;
  /** A JSON path, ONNX node name or IR value name. */
  node?: string;
}

/**
 * `text` on one line: control characters (newlines from a name in a model,
 * say) and the Unicode line separators become `\uXXXX` escapes.
 */
export function oneLine(text: string): string {
  return text.replace(
    /[\p{Cc}\u2028\u2029]/gu,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** An error meant for the user: its message is complete and one line (names are escaped). */
export class RefoldError extends Error {
  /** Where it happened, for tools that want structured access. */
  readonly location: ErrorLocation;
  constructor(message: string, location: ErrorLocation = {}) {
    const prefix = [location.file, location.node].filter((part) => part).join(": ");
    super(oneLine(prefix ? `${prefix}: ${message}` : message));
    this.name = "RefoldError";
    this.location = location;
  }
}

/** Thrown by an op's shape rule when its inputs or attributes do not fit. */
export class ShapeError extends RefoldError {
  constructor(message: string) {
    super(message);
    this.name = "ShapeError";
  }
}
