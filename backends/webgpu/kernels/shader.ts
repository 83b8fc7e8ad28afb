/**
 * A small builder for one WGSL compute shader: storage bindings in first-use
 * order, one offset function per distinct view, expression rendering (one
 * table entry per op of the plan's expression language) and the helpers
 * they need. Stored element types are aliases (`act` for activations, `wt`
 * for weights) that the runtime's prelude defines as f32 or f16; every load
 * converts to f32 and every store of an activation goes through `st`, so the
 * same text compiles for both.
 */
import {
  ERF_CLAMP,
  ERF_P,
  ERF_Q,
  type Expr,
  type ExprOp,
  GELU_SCALE,
  layerShape,
  simplifyView,
  type Value,
  type View,
} from "../../plan/mod.ts";
import type { Ref } from "../spec.ts";

/** How a value's buffer stores elements: `act` (f32 or f16) or always-f32 I/O. */
export type StorageClass = "act" | "f32";

/** Tells the builder how each binding is stored and which binding holds a plan value. */
export interface Storage {
  readonly classOf: (ref: Ref) => StorageClass | "wt";
  readonly refOf: (value: Value) => Ref;
}
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

function horner(coefficients: readonly number[], x: string): string {
  return coefficients.slice(1).reduce(
    (acc, c) => `(${acc} * ${x} + ${f32(c)})`,
    f32(coefficients[0]),
  );
}

/** erf and GELU exactly as backends/plan/math.ts defines them for every target. */
const ERF = [
  "fn erf_(x: f32) -> f32 {",
  "  // x * P(x^2) / Q(x^2) on x clamped to [-4, 4] (backends/plan/math.ts).",
  `  let v = clamp(x, ${f32(-ERF_CLAMP)}, ${f32(ERF_CLAMP)});`,
  "  let x2 = v * v;",
  `  let p = ${horner(ERF_P, "x2")};`,
  `  let q = ${horner(ERF_Q, "x2")};`,
  "  return p * v / q;",
  "}",
].join("\n");
const GELU = "fn gelu_(x: f32) -> f32 { return (x * 0.5) * (erf_(x * " +
  `${f32(Math.fround(GELU_SCALE))}) + 1.0); }`;

/** WGSL of each op of the expression language, given its operands' WGSL. */
const WGSL: { readonly [op in ExprOp]: (...args: string[]) => string } = {
  relu: (x) => `max(${x}, 0.0)`,
  sigmoid: (x) => `(1.0 / (1.0 + exp(-(${x}))))`,
  erf: (x) => `erf_(${x})`,
  gelu: (x) => `gelu_(${x})`,
  sqrt: (x) => `sqrt(${x})`,
  add: (a, b) => `(${a} + ${b})`,
  sub: (a, b) => `(${a} - ${b})`,
  mul: (a, b) => `(${a} * ${b})`,
  div: (a, b) => `(${a} / ${b})`,
};

/** Helper functions an op's WGSL calls, in definition order. */
const HELPERS: { readonly [op in ExprOp]?: readonly string[] } = {
  erf: [ERF],
  gelu: [ERF, GELU],
};

/** Collects bindings, offset functions and helpers while kernel code is written. */
export class ShaderBuilder {
  readonly #storage: Storage;
  readonly #bindings: { ref: Ref; name: string; type: string }[] = [];
  readonly #offsets = new Map<string, string>();
  readonly #functions: string[] = [];

  constructor(storage: Storage) {
    this.#storage = storage;
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
    this.#bindings.push({ ref, name, type: this.#storage.classOf(ref) });
    return name;
  }

  /** The name of a function mapping the view's logical coordinates to an element offset. */
  offset(view: View): string {
    const simple = simplifyView(view);
    const key = JSON.stringify(simple);
    const known = this.#offsets.get(key);
    if (known) return known;
    const name = `off${this.#offsets.size}`;
    this.#offsets.set(key, name);
    this.#functions.push(renderOffset(name, simple));
    return name;
  }

  /** An f32 expression loading `ref` through `view` at `coords`. */
  load(ref: Ref, view: View, coords: readonly string[]): string {
    const rank = layerShape(view.layers[0]).length;
    if (rank !== coords.length) {
      throw new Error(`internal: a view of rank ${rank} used with ${coords.length} coordinates`);
    }
    return `f32(${this.bind(ref)}[${this.offset(view)}(${coords.join(", ")})])`;
  }

  /** Renders an expression; `acc` names the core result. */
  expr(expr: Expr, coords: readonly string[], acc = "acc"): string {
    switch (expr.kind) {
      case "acc":
        return acc;
      case "const":
        return f32(expr.value);
      case "load": {
        const { value, view } = expr.operand;
        return this.load(this.#storage.refOf(value), view, coords);
      }
      case "unary":
        this.#functions.push(...HELPERS[expr.op] ?? []);
        return WGSL[expr.op](this.expr(expr.x, coords, acc));
      case "binary":
        return WGSL[expr.op](this.expr(expr.a, coords, acc), this.expr(expr.b, coords, acc));
    }
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
    lines.push(...new Set(this.#functions), body);
    return lines.join("\n") + "\n";
  }
}

/** The store expression for `value` into an output of class `outClass`. */
export function storeValue(outClass: StorageClass, value: string): string {
  return outClass === "act" ? `st(${value})` : value;
}

function renderOffset(name: string, view: View): string {
  const [top, ...rest] = view.layers;
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

function layerTerms(layer: View["layers"][number], coords: readonly string[]): string {
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
