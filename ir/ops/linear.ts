/**
 * linear: a (grouped) fully-connected layer over the last axis.
 * x: [..., K], weight: [N, K/groups] (PyTorch's out x in layout), bias: [N].
 * Group g maps input features [g*K/G, (g+1)*K/G) to outputs [g*N/G, (g+1)*N/G).
 * RepMLPNet share-sets are groups over rows that each hold S channels.
 */
import { fail, type OpDef } from "./_shared.ts";

/** Attributes of linear. */
export interface LinearAttrs {
  readonly groups: number;
}

/** Fully-connected layer, block-diagonal when grouped. */
export const linear: OpDef<LinearAttrs> = {
  arity: [2, 3],
  shape(attrs, inputs) {
    const problem = (text: string) => fail("linear", attrs, inputs, text);
    const [x, w, b] = inputs;
    if (!Number.isSafeInteger(attrs.groups) || attrs.groups < 1) problem("groups must be >= 1");
    if (x.shape.length < 1) problem("input must have at least one axis");
    if (w.shape.length !== 2) problem("weight must be 2-D [out, in/groups]");
    const k = x.shape[x.shape.length - 1];
    const [n, kg] = w.shape;
    if (k % attrs.groups !== 0 || n % attrs.groups !== 0) {
      problem(`features ${k} -> ${n} not divisible by groups`);
    }
    if (kg * attrs.groups !== k) {
      problem(`weight takes ${kg} features per group, input gives ${k / attrs.groups}`);
    }
    if (b && (b.shape.length !== 1 || b.shape[0] !== n)) problem(`bias must have shape [${n}]`);
    return [...x.shape.slice(0, -1), n];
  },
  evaluate(attrs, [x, w, b], outShape) {
    const [n, kg] = w.shape;
    const k = kg * attrs.groups;
    const ng = n / attrs.groups;
    const rows = x.data.length / k;
    const out = new Float64Array(rows * n);
    for (let row = 0; row < rows; row++) {
      for (let col = 0; col < n; col++) {
        const inBase = row * k + Math.floor(col / ng) * kg;
        let sum = b ? b.data[col] : 0;
        for (let i = 0; i < kg; i++) sum += x.data[inBase + i] * w.data[col * kg + i];
        out[row * n + col] = sum;
      }
    }
    void outShape;
    return out;
  },
  flops(_attrs, [, w, b], outShape) {
    const outputs = outShape.reduce((a, d) => a * d, 1);
    return outputs * (2 * w.shape[1] + (b ? 1 : 0));
  },
};
