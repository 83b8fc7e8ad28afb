/**
 * conv2d: NCHW input, OIHW kernel (O, C/groups, kh, kw), optional bias (O).
 * Per-side padding [top, left, bottom, right] is zero padding.
 */
import { zeros } from "../tensor.ts";
import { fail, isIntTuple, type OpDef, windowOutput } from "./_shared.ts";

/** Attributes of conv2d. */
export interface Conv2dAttrs {
  readonly stride: readonly [number, number];
  /** [top, left, bottom, right]. */
  readonly pads: readonly [number, number, number, number];
  readonly dilation: readonly [number, number];
  readonly groups: number;
}

/** 2-D convolution. */
export const conv2d: OpDef<Conv2dAttrs> = {
  arity: [2, 3],
  shape(attrs, inputs) {
    const problem = (text: string) => fail("conv2d", attrs, inputs, text);
    if (!isIntTuple(attrs.stride, 2, 1)) problem("stride must be two integers >= 1");
    if (!isIntTuple(attrs.pads, 4, 0)) problem("pads must be four integers >= 0");
    if (!isIntTuple(attrs.dilation, 2, 1)) problem("dilation must be two integers >= 1");
    if (!Number.isSafeInteger(attrs.groups) || attrs.groups < 1) problem("groups must be >= 1");
    const [x, w, b] = inputs;
    if (x.shape.length !== 4) problem("input must be 4-D (N, C, H, W)");
    if (w.shape.length !== 4) problem("kernel must be 4-D (O, C/groups, kh, kw)");
    const [n, c, h, wd] = x.shape;
    const [o, cg, kh, kw] = w.shape;
    if (c % attrs.groups !== 0) problem(`input channels ${c} not divisible by groups`);
    if (o % attrs.groups !== 0) problem(`output channels ${o} not divisible by groups`);
    if (cg !== c / attrs.groups) {
      problem(`kernel has ${cg} input channels per group, input gives ${c / attrs.groups}`);
    }
    if (b && (b.shape.length !== 1 || b.shape[0] !== o)) problem(`bias must have shape [${o}]`);
    const [sh, sw] = attrs.stride;
    const [pt, pl, pb, pr] = attrs.pads;
    const [dh, dw] = attrs.dilation;
    const oh = windowOutput(h, kh, sh, pt, pb, dh);
    const ow = windowOutput(wd, kw, sw, pl, pr, dw);
    if (oh < 1 || ow < 1) problem("kernel is larger than the padded input");
    return [n, o, oh, ow];
  },
  evaluate(attrs, [x, w, b], outShape) {
    const [n, c, h, wd] = x.shape;
    const [, cg, kh, kw] = w.shape;
    const [, o, oh, ow] = outShape;
    const og = o / attrs.groups;
    const [sh, sw] = attrs.stride;
    const [pt, pl] = attrs.pads;
    const [dh, dw] = attrs.dilation;
    const out = zeros(outShape).data;
    const xd = x.data, wdata = w.data;
    for (let batch = 0; batch < n; batch++) {
      for (let oc = 0; oc < o; oc++) {
        const outBase = (batch * o + oc) * oh * ow;
        if (b) out.fill(b.data[oc], outBase, outBase + oh * ow);
        const group = Math.floor(oc / og);
        for (let icg = 0; icg < cg; icg++) {
          const inBase = (batch * c + group * cg + icg) * h * wd;
          for (let ky = 0; ky < kh; ky++) {
            for (let kx = 0; kx < kw; kx++) {
              const tap = wdata[((oc * cg + icg) * kh + ky) * kw + kx];
              if (tap === 0) continue;
              for (let oy = 0; oy < oh; oy++) {
                const iy = oy * sh - pt + ky * dh;
                if (iy < 0 || iy >= h) continue;
                const rowIn = inBase + iy * wd, rowOut = outBase + oy * ow;
                for (let ox = 0; ox < ow; ox++) {
                  const ix = ox * sw - pl + kx * dw;
                  if (ix >= 0 && ix < wd) out[rowOut + ox] += tap * xd[rowIn + ix];
                }
              }
            }
          }
        }
      }
    }
    return out;
  },
  flops(_attrs, [, w, b], outShape) {
    const [, cg, kh, kw] = w.shape;
    const outputs = outShape.reduce((a, d) => a * d, 1);
    return outputs * (2 * cg * kh * kw + (b ? 1 : 0));
  },
};
