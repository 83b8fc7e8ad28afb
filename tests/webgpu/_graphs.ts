/**
 * Small deployed-form graphs for the WebGPU tests, built by hand with
 * GraphBuilder: a RepMLP v1 block after conversion (global perceptron, the
 * partition permutes around one grouped fc3), a RepMLPNet unit (share-set
 * fc3 gated by the global perceptron, FFN with GELU) and a ResNet-style
 * bottleneck (convs with fused residual and ReLU).
 */
import {
  batchnormScaleShift,
  type Graph,
  GraphBuilder,
  hashString,
  type Node,
  uniform,
} from "../../ir/mod.ts";

let counter = 0;

/** A seeded weight with values in [-scale, scale) (variances in [0.5, 1.5)). */
export function weight(
  b: GraphBuilder,
  name: string,
  shape: number[],
  scale = 0.5,
): Node<"weight"> {
  const size = shape.reduce((a, d) => a * d, 1);
  const seed = hashString(`${name}/${counter++}`);
  const data = name.endsWith("var")
    ? uniform(size, seed, 0.5, 1.5)
    : uniform(size, seed, -scale, scale);
  return b.weight(name, shape, data);
}

/**
 * A BatchNorm with seeded parameters in deployed form: x * scale + shift per
 * channel, as lower-batchnorm writes it (backends refuse constant BatchNorms).
 */
export function batchnorm(b: GraphBuilder, x: Node, name: string): Node {
  const c = x.type.shape[1];
  const [gamma, beta, mean, variance] = ["weight", "bias", "mean", "var"].map((part) =>
    weight(b, `${name}.${part}`, [c]).data!
  );
  const { scale, shift } = batchnormScaleShift(1e-5, gamma, beta, mean, variance);
  const rest = x.type.shape.slice(2).map(() => 1);
  const scaleNode = b.weight(`${name}.scale`, [c, ...rest], Float32Array.from(scale));
  const shiftNode = b.weight(`${name}.shift`, [c, ...rest], Float32Array.from(shift));
  return b.add(b.mul(x, scaleNode), shiftNode);
}

/** Sizes of a v1 block. */
export interface V1Sizes {
  readonly n: number;
  readonly c: number;
  readonly o: number;
  readonly h: number;
  readonly w: number;
  readonly ph: number;
  readonly pw: number;
  readonly groups: number;
}

/** A deployed RepMLP v1 block (global perceptron present when there are several partitions). */
export function v1Block(
  s: V1Sizes,
  b = new GraphBuilder("v1_block"),
  x: Node = b.input("x", [s.n, s.c, s.h, s.w]),
): { b: GraphBuilder; y: Node } {
  const hp = s.h / s.ph, wp = s.w / s.pw;
  let body = x;
  if (hp * wp > 1) {
    const pooled = b.reshape(b.avgpool(x, [s.ph, s.pw]), [s.n, s.c * hp * wp]);
    const f = s.c * hp * wp;
    const fc1 = b.relu(
      b.linear(pooled, weight(b, "fc1.weight", [f, f]), weight(b, "fc1.bias", [f])),
    );
    const fc2 = b.linear(fc1, weight(b, "fc2.weight", [f, f]), weight(b, "fc2.bias", [f]));
    const gp = b.reshape(fc2, [s.n, s.c, hp, 1, wp, 1]);
    body = b.add(b.reshape(x, [s.n, s.c, hp, s.ph, wp, s.pw]), gp);
  }
  const parts = b.reshape(
    b.transpose(b.reshape(body, [s.n, s.c, hp, s.ph, wp, s.pw]), [0, 2, 4, 1, 3, 5]),
    [s.n * hp * wp, s.c * s.ph * s.pw],
  );
  const k = s.c * s.ph * s.pw, n = s.o * s.ph * s.pw;
  const fc3 = b.linear(
    parts,
    weight(b, "fc3.weight", [n, k / s.groups], 0.2),
    weight(b, "fc3.bias", [n]),
    { groups: s.groups },
  );
  const y = b.reshape(
    b.transpose(b.reshape(fc3, [s.n, hp, wp, s.o, s.ph, s.pw]), [0, 3, 1, 4, 2, 5]),
    [s.n, s.o, s.h, s.w],
  );
  return { b, y };
}

/** The v1 block as a whole graph. */
export function v1Graph(s: V1Sizes): Graph {
  const { b, y } = v1Block(s);
  b.output("y", y);
  return b.build();
}

/** A deployed RepMLPNet unit: x + gate * fc3(partition(BN1 x)), then x + FFN(BN2 x). */
export function v2Unit(
  s: { n: number; c: number; h: number; w: number; ph: number; pw: number; sets: number },
): Graph {
  const b = new GraphBuilder("v2_unit");
  const x = b.input("x", [s.n, s.c, s.h, s.w]);
  const hp = s.h / s.ph, wp = s.w / s.pw, area = s.ph * s.pw;
  const y1 = batchnorm(b, x, "prebn1");
  const c4 = Math.max(1, s.c / 4);
  const pooled = b.globalAvgpool(y1);
  const g1 = b.relu(
    b.conv2d(pooled, weight(b, "gp.fc1.weight", [c4, s.c, 1, 1]), weight(b, "gp.fc1.bias", [c4])),
  );
  const gate = b.sigmoid(
    b.conv2d(g1, weight(b, "gp.fc2.weight", [s.c, c4, 1, 1]), weight(b, "gp.fc2.bias", [s.c])),
  );
  const parts = b.reshape(
    b.transpose(b.reshape(y1, [s.n, s.c, hp, s.ph, wp, s.pw]), [0, 2, 4, 1, 3, 5]),
    [-1, s.sets * area],
  );
  const fc3 = b.linear(
    parts,
    weight(b, "fc3.weight", [s.sets * area, area], 0.3),
    weight(b, "fc3.bias", [s.sets * area]),
    { groups: s.sets },
  );
  const back = b.reshape(
    b.transpose(b.reshape(fc3, [s.n, hp, wp, s.c, s.ph, s.pw]), [0, 3, 1, 4, 2, 5]),
    [s.n, s.c, s.h, s.w],
  );
  const x2 = b.add(x, b.mul(back, gate));
  const y2 = batchnorm(b, x2, "prebn2");
  const f1 = b.gelu(
    b.conv2d(y2, weight(b, "ffn1.weight", [4 * s.c, s.c, 1, 1]), weight(b, "ffn1.bias", [4 * s.c])),
  );
  const f2 = b.conv2d(
    f1,
    weight(b, "ffn2.weight", [s.c, 4 * s.c, 1, 1], 0.2),
    weight(b, "ffn2.bias", [s.c]),
  );
  b.output("y", b.add(x2, f2));
  return b.build();
}

/** A deployed ResNet bottleneck with a projection shortcut, after a stem conv and max pool. */
export function bottleneck(s: { n: number; c: number; hw: number }): Graph {
  const b = new GraphBuilder("bottleneck");
  const x = b.input("x", [s.n, 3, s.hw, s.hw]);
  const stem = b.relu(
    b.conv2d(x, weight(b, "stem.w", [s.c, 3, 7, 7], 0.2), weight(b, "stem.b", [s.c]), {
      stride: 2,
      padding: 3,
    }),
  );
  const pooled = b.maxpool(stem, 3, { stride: 2, padding: 1 });
  const mid = s.c / 2;
  const a = b.relu(b.conv2d(pooled, weight(b, "c1.w", [mid, s.c, 1, 1]), weight(b, "c1.b", [mid])));
  const c = b.relu(
    b.conv2d(a, weight(b, "c2.w", [mid, mid, 3, 3], 0.2), weight(b, "c2.b", [mid]), { padding: 1 }),
  );
  const d = b.conv2d(c, weight(b, "c3.w", [2 * s.c, mid, 1, 1]), weight(b, "c3.b", [2 * s.c]));
  const short = b.conv2d(
    pooled,
    weight(b, "sc.w", [2 * s.c, s.c, 1, 1]),
    weight(b, "sc.b", [2 * s.c]),
  );
  const out = b.relu(b.add(d, short));
  const head = b.reshape(b.globalAvgpool(out), [s.n, 2 * s.c]);
  b.output("logits", b.linear(head, weight(b, "fc.w", [10, 2 * s.c]), weight(b, "fc.b", [10])));
  return b.build();
}
