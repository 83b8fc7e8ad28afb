/**
 * A small builder for WebAssembly text. Code is a tree of S-expressions
 * (`["i32.add", a, b]`) printed with stable indentation, so that generated
 * kernels read well in golden files and diffs. Loops are always do-while
 * loops: every trip count is static and at least one.
 */

/** An S-expression: an atom or a list whose first element names the instruction. */
export type Sx = string | readonly Sx[];

/** Builds a list expression, dropping empty entries so optional parts can be inlined. */
export function sx(head: string, ...args: (Sx | false | undefined)[]): Sx {
  return [head, ...args.filter((arg): arg is Sx => arg !== false && arg !== undefined)];
}

/** `(i32.const n)`, wrapping to the signed range WAT prints. */
export function i32(value: number): Sx {
  if (!Number.isSafeInteger(value)) throw new Error(`wat: i32 constant ${value} is not an integer`);
  return sx("i32.const", String(value | 0));
}

/** `(f32.const x)` with an exact decimal. */
export function f32(value: number): Sx {
  return sx("f32.const", formatFloat(value));
}

/** `(v128.const f32x4 x x x x)`. */
export function f32x4(value: number): Sx {
  const text = formatFloat(value);
  return sx("v128.const", "f32x4", text, text, text, text);
}

function formatFloat(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  return Object.is(value, -0) ? "-0" : String(Math.fround(value));
}

/** `(local.get $name)`. */
export function get(name: string): Sx {
  return sx("local.get", `$${name}`);
}

/** `(local.set $name value)`. */
export function set(name: string, value: Sx): Sx {
  return sx("local.set", `$${name}`, value);
}

/** `(local.tee $name value)`. */
export function tee(name: string, value: Sx): Sx {
  return sx("local.tee", `$${name}`, value);
}

/** `base + offset` for i32 addresses, folding zero and constants. */
export function addr(base: Sx, offset: number | Sx): Sx {
  if (offset === 0) return base;
  const asConst = (e: Sx) => Array.isArray(e) && e[0] === "i32.const" ? Number(e[1]) : undefined;
  const off = typeof offset === "number" ? i32(offset) : offset;
  const a = asConst(base), b = asConst(off);
  if (a !== undefined && b !== undefined) return i32(a + b);
  if (a === 0) return off;
  return sx("i32.add", base, off);
}

/** `value * factor` for i32, folding 0, 1 and constants. */
export function mul(value: Sx, factor: number): Sx {
  if (factor === 0) return i32(0);
  if (factor === 1) return value;
  if (Array.isArray(value) && value[0] === "i32.const") return i32(Number(value[1]) * factor);
  return sx("i32.mul", value, i32(factor));
}

/**
 * A counted loop `for (v = start; v < end; v += step)` whose trip count is
 * known to be at least one; a single static trip emits the body once.
 */
export function forLoop(
  variable: string,
  range: { start: number | Sx; end: number | Sx; step?: number },
  body: readonly Sx[],
): Sx[] {
  const step = range.step ?? 1;
  const start = typeof range.start === "number" ? i32(range.start) : range.start;
  const init = set(variable, start);
  if (typeof range.start === "number" && typeof range.end === "number") {
    if (range.start + step >= range.end) return [init, ...body];
  }
  const end = typeof range.end === "number" ? i32(range.end) : range.end;
  return [
    init,
    sx(
      "loop",
      `$${variable}_loop`,
      ...body,
      sx(
        "br_if",
        `$${variable}_loop`,
        sx("i32.lt_u", tee(variable, addr(get(variable), step)), end),
      ),
    ),
  ];
}

/** `(if cond (then ...) (else ...))` as a statement. */
export function ifElse(cond: Sx, then: readonly Sx[], otherwise: readonly Sx[] = []): Sx {
  return sx(
    "if",
    cond,
    sx("then", ...then),
    otherwise.length > 0 && sx("else", ...otherwise),
  );
}

/** A function under construction: parameters, locals and body statements. */
export class FuncBuilder {
  readonly #locals = new Map<string, string>();
  readonly #params: [string, string][] = [];
  readonly body: Sx[] = [];
  result?: string;

  constructor(readonly name: string, readonly exportName?: string) {}

  /** Declares a parameter; returns its name. */
  param(name: string, type: string): string {
    this.#params.push([name, type]);
    return name;
  }

  /** Declares a local once (repeat declarations must agree); returns its name. */
  local(name: string, type: string): string {
    const known = this.#locals.get(name) ?? this.#params.find(([p]) => p === name)?.[1];
    if (known !== undefined && known !== type) {
      throw new Error(`wat: local $${name} declared as ${known} and ${type}`);
    }
    if (known === undefined) this.#locals.set(name, type);
    return name;
  }

  /** Appends statements. */
  emit(...statements: (Sx | readonly Sx[])[]): void {
    for (const statement of statements) {
      if (isStatementList(statement)) this.body.push(...statement);
      else this.body.push(statement as Sx);
    }
  }

  /** The finished `(func ...)`. */
  build(): Sx {
    return sx(
      "func",
      `$${this.name}`,
      this.exportName !== undefined && sx("export", JSON.stringify(this.exportName)),
      ...this.#params.map(([name, type]) => sx("param", `$${name}`, type)),
      this.result !== undefined && sx("result", this.result),
      ...[...this.#locals].map(([name, type]) => sx("local", `$${name}`, type)),
      ...this.body,
    );
  }
}

function isStatementList(value: Sx | readonly Sx[]): value is readonly Sx[] {
  return Array.isArray(value) && (value.length === 0 || typeof value[0] !== "string");
}

/** Collects functions (deduplicated by name) and prints the module. */
export class ModuleBuilder {
  readonly #funcs = new Map<string, Sx>();
  /** Globals, printed before the functions. */
  readonly globals: Sx[] = [];

  /** `shared`: the memory is imported as env.memory, shared, for worker threads. */
  constructor(readonly memoryPages: number, readonly shared = false) {}

  /** Adds a function; a second function with the same name is ignored (shared helpers). */
  add(func: FuncBuilder): void {
    if (!this.#funcs.has(func.name)) this.#funcs.set(func.name, func.build());
  }

  /** The module text. */
  print(): string {
    const memory = this.shared
      ? sx(
        "import",
        '"env"',
        '"memory"',
        sx("memory", String(this.memoryPages), "65536", "shared"),
      )
      : sx("memory", sx("export", '"memory"'), String(this.memoryPages));
    return print(sx("module", memory, ...this.globals, ...this.#funcs.values())) + "\n";
  }
}

const WIDTH = 96;

/** Prints an S-expression: short lists on one line, long ones one child per line. */
export function print(expr: Sx, indent = ""): string {
  const flat = printFlat(expr);
  if (typeof expr === "string" || indent.length + flat.length <= WIDTH) return indent + flat;
  const [head, ...rest] = expr;
  // Keep leading atoms (names, immediates) on the head line.
  let atoms = 0;
  while (atoms < rest.length && typeof rest[atoms] === "string") atoms++;
  const headLine = [head, ...rest.slice(0, atoms)].map((e) => printFlat(e)).join(" ");
  const inner = indent + " ";
  const children = rest.slice(atoms).map((child) => print(child, inner));
  return `${indent}(${headLine}\n${children.join("\n")})`;
}

function printFlat(expr: Sx): string {
  return typeof expr === "string" ? expr : `(${expr.map(printFlat).join(" ")})`;
}
