/**
 * The two identities of conv forms (see _conv_form.ts), exact in any
 * geometry they accept and refused, with the reason, in any other.
 *
 * Parallel (a sum of convs of one tensor, same stride):
 *   conv(x, K1, b1) + conv(x, K2, b2) = conv(x, K1 (+) K2, b1 + b2)
 * Along each axis a branch's tap k reads input offset k*d - p from the
 * output's anchor y*s. Every tap of every branch goes to that offset in one
 * window: padding P = max p, dilation D = the gcd of the dilations and of
 * the anchors' differences, so kernels of any size, odd or even, centred or
 * not, and of different dilations share one conv. Groups become the gcd of
 * the branches' groups (a branch with g groups is a conv with any divisor of
 * g, zero off its blocks).
 *
 * Sequential (a conv reading a conv):
 *   convB(convA(x, KA, bA), KB, bB) = conv(x, KB * KA, bB + sum_taps(KB) bA)
 * with offsets kA*dA - pA + (kB*dB - pB)*sA, stride sA*sB and gcd(gA, gB)
 * groups: B's taps step over A's grid, sA apart in x. Exact when B never
 * reads A's output outside it: B is unpadded, or A is a 1x1, unpadded,
 * bias-free conv (its output is then zero wherever x is zero-padded, as B's
 * padding assumes). Otherwise the border would differ, and composition is
 * refused. DiverseBranchBlock pads
 * the BN's output with the BN's own shift before its kxk conv; a 1x1 conv
 * padded by p, then the BN, then an unpadded kxk conv is exactly that graph,
 * and composes.
 */
import { gcd } from "./_fc.ts";
import type { ConvForm } from "./_conv_form.ts";

/** The window of a merged form along one axis. */
interface Axis {
  readonly kernel: number;
  readonly dilation: number;
  readonly before: number;
  readonly after: number;
}

/** Output length of a window; the same formula as the ops' shape rules. */
function outLength(size: number, axis: Axis, stride: number): number {
  const span = axis.dilation * (axis.kernel - 1) + 1;
  return Math.floor((size + axis.before + axis.after - span) / stride) + 1;
}

/**
 * The window whose taps reach offsets low..high in steps of `dilation`, padded after by
 * `preferred` when that gives `out` outputs (the branches' own padding, so a symmetric conv
 * stays symmetric), else by the least that does; undefined when none does.
 */
function fitAxis(
  reach: { low: number; high: number; dilation: number },
  size: number,
  stride: number,
  out: number,
  preferred: number,
): Axis | undefined {
  const before = -reach.low;
  const kernel = (reach.high - reach.low) / reach.dilation + 1;
  const span = reach.dilation * (kernel - 1) + 1;
  const least = Math.max(0, (out - 1) * stride + span - size - before);
  for (const after of [preferred, least]) {
    const axis = { kernel, dilation: reach.dilation, before, after };
    if (before >= 0 && after >= 0 && outLength(size, axis, stride) === out) return axis;
  }
  return undefined;
}

/** Copies `form`'s weight into a [O, C/g, K...] array at tap offsets given per axis. */
function place(
  target: Float64Array,
  form: ConvForm,
  groups: number,
  kernel: readonly [number, number],
  tap: (axis: 0 | 1, k: number) => number,
): void {
  const channels = form.input.type.shape[1], outputs = form.outShape[1];
  const own = channels / form.groups, perOwn = outputs / form.groups;
  const cg = channels / groups, perGroup = outputs / groups;
  const [kh, kw] = form.window.kernel;
  const [th, tw] = kernel;
  for (let o = 0; o < outputs; o++) {
    const offset = Math.floor(o / perOwn) * own - Math.floor(o / perGroup) * cg;
    for (let c = 0; c < own; c++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) {
          const value = form.weight[((o * own + c) * kh + y) * kw + x];
          if (value === 0) continue;
          target[((o * cg + c + offset) * th + tap(0, y)) * tw + tap(1, x)] += value;
        }
      }
    }
  }
}

/** Why forms cannot be summed as one conv, or undefined when they can. */
function parallelProblem(forms: readonly ConvForm[]): string | undefined {
  const [first] = forms;
  for (const form of forms) {
    if (form.input !== first.input) return "the branches read different tensors";
    const [s0, s1] = form.window.stride;
    if (s0 !== first.window.stride[0] || s1 !== first.window.stride[1]) {
      return `stride [${form.window.stride}] differs from [${first.window.stride}]`;
    }
    if (form.outShape.some((dim, i) => dim !== first.outShape[i])) {
      return `output [${form.outShape}] differs from [${first.outShape}]`;
    }
  }
  return undefined;
}

/** The sum of forms of one tensor as one form, or the reason it is not one conv. */
export function sumForms(forms: readonly ConvForm[]): { form: ConvForm } | { reason: string } {
  const problem = parallelProblem(forms);
  if (problem) return { reason: problem };
  const [first] = forms;
  const [, , height, width] = first.input.type.shape;
  const [, outputs, oh, ow] = first.outShape;
  const axes: Axis[] = [];
  for (const axis of [0, 1] as const) {
    const low = Math.min(...forms.map((f) => -f.window.pads[axis]));
    const high = Math.max(
      ...forms.map((f) =>
        (f.window.kernel[axis] - 1) * f.window.dilation[axis] - f.window.pads[axis]
      ),
    );
    // The anchors of all branches must sit on the merged window's lattice.
    let dilation = 0;
    for (const f of forms) {
      if (f.window.kernel[axis] > 1) dilation = gcd(dilation, f.window.dilation[axis]);
      dilation = gcd(dilation, -low - f.window.pads[axis]);
    }
    const ownHigh = (f: ConvForm) =>
      (f.window.kernel[axis] - 1) * f.window.dilation[axis] - f.window.pads[axis];
    const preferred = Math.max(...forms.map((f) => f.window.pads[axis + 2] + high - ownHigh(f)));
    const fitted = fitAxis(
      { low, high, dilation: dilation || 1 },
      axis === 0 ? height : width,
      first.window.stride[axis],
      axis === 0 ? oh : ow,
      preferred,
    );
    if (!fitted) return { reason: "no single window holds every branch's taps" };
    axes.push(fitted);
  }
  const groups = forms.reduce((g, f) => gcd(g, f.groups), first.groups);
  const channels = first.input.type.shape[1];
  const kernel: [number, number] = [axes[0].kernel, axes[1].kernel];
  const weight = new Float64Array(outputs * (channels / groups) * kernel[0] * kernel[1]);
  const bias = new Float64Array(outputs);
  for (const form of forms) {
    place(
      weight,
      form,
      groups,
      kernel,
      (axis, k) =>
        (k * form.window.dilation[axis] - form.window.pads[axis] + axes[axis].before) /
        axes[axis].dilation,
    );
    for (let o = 0; o < outputs; o++) bias[o] += form.bias[o];
  }
  return {
    form: {
      input: first.input,
      outShape: first.outShape,
      groups,
      window: {
        kernel,
        stride: first.window.stride,
        pads: [axes[0].before, axes[1].before, axes[0].after, axes[1].after],
        dilation: [axes[0].dilation, axes[1].dilation],
      },
      weight,
      bias,
      sources: forms.flatMap((f) => f.sources),
      cost: forms.reduce((total, f) => total + f.cost, 0),
    },
  };
}

/** Why `b` reading `a`'s output cannot be one conv of `a`'s input, or undefined. */
export function compositionProblem(a: ConvForm, b: ConvForm): string | undefined {
  if (b.window.pads.some((p) => p > 0)) {
    const pointwise = a.window.kernel.every((k) => k === 1) && a.window.pads.every((p) => p === 0);
    if (!pointwise) {
      return `the second zero-pads the first's ${a.window.kernel.join("x")} output, ` +
        "whose border is not zero where x is padded";
    }
    if (a.bias.some((v) => v !== 0)) {
      return "the second zero-pads the first's output, whose bias (a folded BatchNorm shift) " +
        "would reach the padded border in one conv; pad the first conv instead (DBB's BNAndPad)";
    }
  }
  return undefined;
}

/** `b` after `a` as one form of `a`'s input (check compositionProblem first). */
export function composeForms(a: ConvForm, b: ConvForm): ConvForm {
  const [, channels, height, width] = a.input.type.shape;
  const [, middle] = a.outShape;
  const [, outputs, oh, ow] = b.outShape;
  const axes: Axis[] = [];
  // B's taps and padding step over A's grid: sA apart in x.
  const step = a.window.stride;
  for (const axis of [0, 1] as const) {
    const [ka, kb] = [a.window.kernel[axis], b.window.kernel[axis]];
    const [da, db] = [a.window.dilation[axis], b.window.dilation[axis] * step[axis]];
    const dilation = gcd(ka > 1 ? da : 0, kb > 1 ? db : 0) || 1;
    const low = -a.window.pads[axis] - b.window.pads[axis] * step[axis];
    const fitted = fitAxis(
      { low, high: low + (ka - 1) * da + (kb - 1) * db, dilation },
      axis === 0 ? height : width,
      b.window.stride[axis] * step[axis],
      axis === 0 ? oh : ow,
      a.window.pads[axis + 2] + b.window.pads[axis + 2] * step[axis],
    );
    if (!fitted) throw new Error("internal: a composed conv does not give the second's outputs");
    axes.push(fitted);
  }
  const groups = gcd(a.groups, b.groups);
  const [kah, kaw] = a.window.kernel, [kbh, kbw] = b.window.kernel;
  const [kh, kw] = [axes[0].kernel, axes[1].kernel];
  const cg = channels / groups, perGroup = outputs / groups;
  const aIn = channels / a.groups, aPer = middle / a.groups;
  const bIn = middle / b.groups, bPer = outputs / b.groups;
  const weight = new Float64Array(outputs * cg * kh * kw);
  const bias = Float64Array.from(b.bias);
  const tap = (axis: 0 | 1, ka: number, kb: number) =>
    (ka * a.window.dilation[axis] + kb * b.window.dilation[axis] * step[axis]) /
    axes[axis].dilation;
  for (let o = 0; o < outputs; o++) {
    const firstMiddle = Math.floor(o / bPer) * bIn;
    const firstNew = Math.floor(o / perGroup) * cg;
    for (let ml = 0; ml < bIn; ml++) {
      const m = firstMiddle + ml;
      const shift = Math.floor(m / aPer) * aIn - firstNew;
      for (let yb = 0; yb < kbh; yb++) {
        for (let xb = 0; xb < kbw; xb++) {
          const wb = b.weight[((o * bIn + ml) * kbh + yb) * kbw + xb];
          if (wb === 0) continue;
          bias[o] += wb * a.bias[m];
          for (let cl = 0; cl < aIn; cl++) {
            const row = (o * cg + cl + shift) * kh;
            for (let ya = 0; ya < kah; ya++) {
              for (let xa = 0; xa < kaw; xa++) {
                const wa = a.weight[((m * aIn + cl) * kah + ya) * kaw + xa];
                weight[(row + tap(0, ya, yb)) * kw + tap(1, xa, xb)] += wb * wa;
              }
            }
          }
        }
      }
    }
  }
  return {
    input: a.input,
    outShape: b.outShape,
    groups,
    window: {
      kernel: [kh, kw],
      stride: [b.window.stride[0] * step[0], b.window.stride[1] * step[1]],
      pads: [axes[0].before, axes[1].before, axes[0].after, axes[1].after],
      dilation: [axes[0].dilation, axes[1].dilation],
    },
    weight,
    bias,
    sources: [...a.sources, ...b.sources],
    cost: a.cost + b.cost,
  };
}
