/**
 * Seeded random graphs over every op, for round-trip tests. Each step picks
 * an op that fits the current value's shape; seed s forces op s % OPS first,
 * so a run over consecutive seeds exercises every op.
 */
import {
  type Graph,
  GraphBuilder,
  makeNode,
  type Node,
  seededRandom,
  sizeOf,
  uniform,
} from "../../ir/mod.ts";

/** The step kinds; together they produce every non-source op. */
export const STEPS = [
  "conv2d",
  "batchnorm",
  "relu",
  "sigmoid",
  "gelu",
  "erf",
  "add",
  "sub",
  "mul",
  "div",
  "avgpool",
  "maxpool",
  "concat",
  "transpose",
  "reshape",
  "global_avgpool",
] as const;

/** A random DAG of 3 to 8 steps on one 4-D input, ending in flatten + linear (+ more outputs). */
export function randomGraph(seed: number): Graph {
  const random = seededRandom(seed);
  const int = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)];
  const b = new GraphBuilder(`random_${seed}`);
  let count = 0;
  const weight = (shape: number[], positive = false) => {
    const name = `layer${count++}.${positive ? "running_var" : "weight"}`;
    return b.weight(
      name,
      shape,
      uniform(sizeOf(shape), seed * 997 + count, positive ? 0.5 : -1, positive ? 1.5 : 1),
    );
  };
  const x = b.input("x", [int(1, 2), pick([2, 4]), int(5, 8), int(5, 8)]);
  const seen = new Set<Node>([x]);
  let current: Node = x;
  const steps = int(3, 8);
  for (let step = 0; step < steps; step++) {
    const kind = step === 0 ? STEPS[seed % STEPS.length] : pick(STEPS);
    const [, c, h, w]: readonly number[] = current.type.shape;
    const sameShape = [...seen].filter((node) =>
      node.type.shape.join() === current.type.shape.join()
    );
    switch (kind) {
      case "conv2d": {
        const groups = pick([1, c % 2 === 0 ? 2 : 1]);
        const out = groups * int(1, 3);
        const [pad, padLeft] = [int(0, 1), int(0, 1)];
        let [k, dilation, stride] = [int(1, 3), int(1, 2), int(1, 2)];
        if (dilation * (k - 1) + 1 > Math.min(h + 2 * pad, w + padLeft)) [k, dilation] = [1, 1];
        const bias = random() < 0.5 ? weight([out]) : undefined;
        current = b.conv2d(current, weight([out, c / groups, k, k]), bias, {
          stride,
          pads: [pad, padLeft, pad, 0],
          dilation,
          groups,
        });
        break;
      }
      case "batchnorm":
        current = b.batchnorm(current, {
          gamma: weight([c]),
          beta: weight([c]),
          mean: weight([c]),
          variance: weight([c], true),
        }, { epsilon: pick([1e-5, 1e-3]) });
        break;
      case "relu":
      case "sigmoid":
      case "gelu":
        current = b[kind](current);
        break;
      case "erf":
        current = makeNode("erf", [current], {});
        break;
      case "add":
      case "sub":
      case "mul":
      case "div": {
        // Another value of the same shape makes a DAG; a [C,1,1] weight broadcasts.
        const other: Node = sameShape.length > 1 && random() < 0.6
          ? pick(sameShape.filter((node) => node !== current))
          : weight([c, 1, 1], kind === "div");
        current = b[kind](current, other);
        break;
      }
      case "avgpool":
      case "maxpool": {
        if (h < 2 || w < 2) break;
        const options = { stride: int(1, 2), padding: int(0, 1), countIncludePad: random() < 0.5 };
        current = kind === "avgpool"
          ? b.avgpool(current, 2, options)
          : b.maxpool(current, 2, options);
        break;
      }
      case "concat":
        if (c <= 8) current = b.concat([current, pick(sameShape)], 1);
        break;
      case "transpose":
        current = b.transpose(current, [0, 1, 3, 2]);
        break;
      case "reshape":
        current = b.reshape(current, [-1, c, w, h]);
        break;
      case "global_avgpool":
        current = b.globalAvgpool(current);
        break;
    }
    seen.add(current);
  }
  const flat = b.flatten(current, 1);
  const features = flat.type.shape[1];
  const groups = features % 2 === 0 ? pick([1, 2]) : 1;
  const out = groups * int(1, 3);
  const y = b.linear(
    flat,
    weight([out, features / groups]),
    random() < 0.5 ? weight([out]) : undefined,
    {
      groups,
    },
  );
  b.output("y", y);
  if (random() < 0.5) b.output("features", current);
  if (random() < 0.3) b.output("y_again", y);
  return b.build();
}
