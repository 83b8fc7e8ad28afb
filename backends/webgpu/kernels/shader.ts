/**
 * A small builder for one WGSL compute shader: storage bindings in first-use
 * order, one offset function per distinct access, expression rendering and
 * the helpers they need. Stored element types are aliases (`act` for
 * activations, `wt` for weights) that the runtime's prelude defines as f32
 * or f16; every load converts to f32 and every store of an activation goes
 * through `st`, so the same text compiles for both.
 */
import { type Access, layerShape, simplifyAccess } from "../access.ts";
import type { Expr, Ref } from "../spec.ts";

/** How a value's buffer stores elements: `act` (f32 or f16) or always-f32 I/O. */
export type StorageClass = "act" | "f32";

/** Tells the builder how each value is stored. */
export type StorageOf = (ref: Ref) => StorageClass | "wt";

/** A WGSL unsigned literal. */
export function u32(value: number): string {
  if (!Number.isSafeInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`webgpu: index ${value} does not fit in u32`);
  }
  return `${value}u`;
}

/** A WGSL f32 literal. */
export function f32(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`webgpu: constant ${value} is not finite`);
  const text = Number.isInteger(value) && Math.abs(value) < 1e21 ? `${value}.0` : String(value);
  return value < 0 ? `(${text})` : text;
}

const ERF = `fn erf_(x: f32) -> f32 {
  // Abramowitz & Stegun 7.1.26: |error| < 1.5e-7.
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let p = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t;
  let y = 1.0 - p * exp(-a * a);
  return select(-y, y, x >= 0.0);
}`;

/** Collects bindings, offset functions and helpers while kernel code is written. */
export class ShaderBuilder {
  readonly #storageOf: StorageOf;
  readonly #bindings: { ref: Ref; name: string; type: string }[] = [];
  readonly #offsets = new Map<string, string>();
  readonly #functions: string[] = [];
  #erf = false;

  constructor(storageOf: StorageOf) {
    this.#storageOf = storageOf;
  }

  /** The refs bound, in binding order (the output is bound after them). */
  get refs(): Ref[] {
    return this.#bindings.map((binding) => binding.ref);
  }

  /** The variable name of a read-only binding, created on first use. */
  bind(ref: Ref): string {
    const found = this.#bindings.find((b) => b.ref.kind === ref.kind && b.ref.id === ref.id);
    if (found) return found.name;
    // Named by position, not by value, so that layers of the same shape share one shader.
    const name = `in${this.#bindings.length}`;
    this.#bindings.push({ ref, name, type: this.#storageOf(ref) });
    return name;
  }

  /** The name of a function mapping the access's logical coordinates to an element offset. */
  offset(access: Access): string {
    const simple = simplifyAccess(access);
    const key = JSON.stringify(simple);
    const known = this.#offsets.get(key);
    if (known) return known;
    const name = `off${this.#offsets.size}`;
    this.#offsets.set(key, name);
    this.#functions.push(renderOffset(name, simple));
    return name;
  }

  /** An f32 expression loading `ref` through `access` at `coords`. */
  load(ref: Ref, access: Access, coords: readonly string[]): string {
    const rank = layerShape(access.layers[0]).length;
    if (rank !== coords.length) {
      throw new Error(`webgpu: access of rank ${rank} used with ${coords.length} coordinates`);
    }
    return `f32(${this.bind(ref)}[${this.offset(access)}(${coords.join(", ")})])`;
  }

  /** Renders an expression; `acc` names the core result. */
  expr(expr: Expr, coords: readonly string[], acc = "acc"): string {
    switch (expr.kind) {
      case "acc":
        return acc;
      case "const":
        return f32(expr.value);
      case "load":
        return this.load(expr.ref, expr.access, coords);
      case "unary": {
        const x = this.expr(expr.x, coords, acc);
        switch (expr.op) {
          case "relu":
            return `max(${x}, 0.0)`;
          case "sqrt":
            return `sqrt(${x})`;
          case "sigmoid":
            return `(1.0 / (1.0 + exp(-(${x}))))`;
          case "erf":
            this.#erf = true;
            return `erf_(${x})`;
          case "gelu":
            this.#erf = true;
            this.#functions.push(
              "fn gelu_(x: f32) -> f32 { return 0.5 * x * (1.0 + erf_(x * 0.70710678118654752)); }",
            );
            return `gelu_(${x})`;
        }
        break;
      }
      case "binary": {
        const a = this.expr(expr.a, coords, acc), b = this.expr(expr.b, coords, acc);
        const sign = { add: "+", sub: "-", mul: "*", div: "/" }[expr.op];
        return `(${a} ${sign} ${b})`;
      }
    }
    throw new Error(`webgpu: unknown expression ${JSON.stringify(expr)}`);
  }

  /** Adds a helper function verbatim (deduplicated). */
  helper(text: string): void {
    this.#functions.push(text);
  }

  /**
   * The whole shader: header comment, bindings (the output, of `outClass`,
   * last and writable), helpers, then `body`.
   */
  render(comment: string, outClass: StorageClass, body: string): string {
    // Labels carry model names: keep them printable ASCII so no WGSL line break ends the comment.
    const lines = comment.split("\n").map((line) =>
      `// ${line.replace(/[^\x20-\x7e]/g, "?")}`.trimEnd()
    );
    this.#bindings.forEach((binding, i) => {
      lines.push(
        `@group(0) @binding(${i}) var<storage, read> ${binding.name}: array<${binding.type}>;`,
      );
    });
    lines.push(
      `@group(0) @binding(${this.#bindings.length}) var<storage, read_write> out: array<${outClass}>;`,
    );
    lines.push("override base: u32 = 0u;");
    if (this.#erf) this.#functions.push(ERF);
    lines.push(...new Set(this.#functions), body);
    return lines.join("\n") + "\n";
  }
}

/** The store expression for `value` into an output of class `outClass`. */
export function storeValue(outClass: StorageClass, value: string): string {
  return outClass === "act" ? `st(${value})` : value;
}

function renderOffset(name: string, access: Access): string {
  const [top, ...rest] = access.layers;
  const shape = layerShape(top);
  const params = shape.map((_size, axis) => `c${axis}: u32`).join(", ");
  const body: string[] = [];
  let current = layerTerms(top, shape.map((_size, axis) => `c${axis}`));
  rest.forEach((layer, depth) => {
    body.push(`  let f${depth} = ${current};`);
    const inner = layerShape(layer);
    let stride = 1;
    const coords = new Array<string>(inner.length);
    for (let axis = inner.length - 1; axis >= 0; axis--) {
      const quotient = stride === 1 ? `f${depth}` : `(f${depth} / ${u32(stride)})`;
      coords[axis] = axis === 0 ? quotient : `(${quotient} % ${u32(inner[axis])})`;
      stride *= inner[axis];
    }
    current = layerTerms(layer, coords);
  });
  body.push(`  return ${current};`);
  return `fn ${name}(${params}) -> u32 {\n${body.join("\n")}\n}`;
}

function layerTerms(layer: Access["layers"][number], coords: readonly string[]): string {
  const terms: string[] = [];
  layer.axes.forEach((dims, axis) => {
    let inner = 1;
    for (let d = dims.length - 1; d >= 0; d--) {
      const { size, stride } = dims[d];
      if (stride !== 0) {
        const quotient = inner === 1 ? coords[axis] : `(${coords[axis]} / ${u32(inner)})`;
        const digit = d === 0 ? quotient : `(${quotient} % ${u32(size)})`;
        terms.push(stride === 1 ? digit : `${digit} * ${u32(stride)}`);
      }
      inner *= size;
    }
  });
  if (layer.offset !== 0) terms.push(u32(layer.offset));
  return terms.length === 0 ? "0u" : terms.join(" + ");
}
