/**
 * Deployed-form RepMLP graphs built by hand, in the shape the pipeline
 * produces (../shared/repmlp.md "three FC layers"): the wasm tests and
 * benchmark use them where examples/ and the compiler are not needed or not
 * there yet. Weights are seeded, so every run sees the same graph.
 */
import { type Graph, GraphBuilder, type Node, uniform } from "../../ir/mod.ts";

/** Shape of a deployed RepMLP v1 block. */
export interface V1Config {
  readonly batch: number;
  readonly channels: number;
  readonly outChannels: number;
  readonly height: number;
  readonly width: number;
  readonly h: number;
  readonly w: number;
  readonly groups: number;
  /** Hidden reduction of fc1/fc2 (r); 0 drops the global perceptron. */
  readonly reduction: number;
}

let seed = 1;
function weight(b: GraphBuilder, name: string, shape: number[], scale = 1): Node {
  const size = shape.reduce((a, d) => a * d, 1);
  const bound = scale /
    Math.sqrt(shape[shape.length - 1] * (shape.length === 4 ? shape[2] * shape[3] : 1));
  return b.weight(name, shape, uniform(size, seed++, -bound, bound));
}

/** The deployed v1 block on `x`: global perceptron, partition, fc3, un-partition. */
export function v1Block(b: GraphBuilder, x: Node, cfg: V1Config, prefix = "block"): Node {
  const { batch: n, channels: c, outChannels: o, height, width, h, w, groups } = cfg;
  const hp = height / h, wp = width / w;
  let source: Node = b.reshape(x, [n, c, hp, h, wp, w]);
  if (cfg.reduction > 0 && (hp > 1 || wp > 1)) {
    const features = c * hp * wp, hidden = features / cfg.reduction;
    const pooled = b.reshape(b.avgpool(x, [h, w]), [n, c * hp * wp]);
    const fc1 = b.relu(
      b.linear(
        pooled,
        weight(b, `${prefix}.fc1.weight`, [hidden, features]),
        weight(b, `${prefix}.fc1.bias`, [hidden]),
      ),
    );
    const fc2 = b.linear(
      fc1,
      weight(b, `${prefix}.fc2.weight`, [features, hidden]),
      weight(b, `${prefix}.fc2.bias`, [features]),
    );
    source = b.add(source, b.reshape(fc2, [n, c, hp, 1, wp, 1]));
  }
  const rows = b.reshape(b.transpose(source, [0, 2, 4, 1, 3, 5]), [n * hp * wp, c * h * w]);
  const fc3 = b.linear(
    rows,
    weight(b, `${prefix}.fc3.weight`, [o * h * w, (c * h * w) / groups]),
    weight(b, `${prefix}.fc3.bias`, [o * h * w]),
    { groups },
  );
  const back = b.transpose(b.reshape(fc3, [n, hp, wp, o, h, w]), [0, 3, 1, 4, 2, 5]);
  return b.reshape(back, [n, o, height, width]);
}

/** One deployed v1 block as a whole graph. */
export function v1BlockGraph(cfg: V1Config): Graph {
  const b = new GraphBuilder("repmlp_v1_block");
  const x = b.input("x", [cfg.batch, cfg.channels, cfg.height, cfg.width]);
  b.output("y", v1Block(b, x, cfg));
  return b.build();
}

/** A deployed RepMLP-ResNet Light block: 1x1 conv, RepMLP, 1x1 conv, residual. */
export function lightBlockGraph(cfg: V1Config & { readonly wide: number }): Graph {
  const b = new GraphBuilder("light_block");
  const x = b.input("x", [cfg.batch, cfg.wide, cfg.height, cfg.width]);
  const c = cfg.channels;
  const down = b.relu(
    b.conv2d(x, weight(b, "conv1.weight", [c, cfg.wide, 1, 1]), weight(b, "conv1.bias", [c])),
  );
  const mid = b.relu(v1Block(b, down, { ...cfg, outChannels: c }));
  const up = b.conv2d(
    mid,
    weight(b, "conv3.weight", [cfg.wide, c, 1, 1]),
    weight(b, "conv3.bias", [cfg.wide]),
  );
  b.output("y", b.relu(b.add(up, x)));
  return b.build();
}

/** Shape of a deployed RepMLPNet unit. */
export interface V2Config {
  readonly batch: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly h: number;
  readonly w: number;
  readonly sharesets: number;
}

/** A deployed RepMLPNet unit: gp-scaled share-set fc3 plus residual, then the GELU FFN. */
export function v2UnitGraph(cfg: V2Config): Graph {
  const { batch: n, channels: c, height, width, h, w, sharesets: s } = cfg;
  const hp = height / h, wp = width / w;
  const b = new GraphBuilder("repmlpnet_unit");
  const x = b.input("x", [n, c, height, width]);
  const gp1 = b.relu(
    b.conv2d(
      b.globalAvgpool(x),
      weight(b, "gp.fc1.weight", [c / 4, c, 1, 1]),
      weight(b, "gp.fc1.bias", [c / 4]),
    ),
  );
  const gp = b.sigmoid(
    b.conv2d(gp1, weight(b, "gp.fc2.weight", [c, c / 4, 1, 1]), weight(b, "gp.fc2.bias", [c])),
  );
  const parts = b.transpose(b.reshape(x, [n, c, hp, h, wp, w]), [0, 2, 4, 1, 3, 5]);
  const rows = b.reshape(parts, [-1, s * h * w]);
  const fc3 = b.linear(
    rows,
    weight(b, "fc3.weight", [s * h * w, h * w]),
    weight(b, "fc3.bias", [s * h * w]),
    { groups: s },
  );
  const back = b.transpose(b.reshape(fc3, [n, hp, wp, c, h, w]), [0, 3, 1, 4, 2, 5]);
  const y = b.add(x, b.mul(b.reshape(back, [n, c, height, width]), gp));
  const ffn1 = b.gelu(
    b.conv2d(y, weight(b, "ffn1.weight", [4 * c, c, 1, 1]), weight(b, "ffn1.bias", [4 * c])),
  );
  const ffn2 = b.conv2d(
    ffn1,
    weight(b, "ffn2.weight", [c, 4 * c, 1, 1]),
    weight(b, "ffn2.bias", [c]),
  );
  b.output("y", b.add(y, ffn2));
  return b.build();
}

/** A bare grouped FC (the benchmark's FC3 shapes): [rows, k] -> [rows, n]. */
export function fcGraph(rows: number, features: number, groups: number): Graph {
  const b = new GraphBuilder("fc");
  const x = b.input("x", [rows, features]);
  b.output(
    "y",
    b.linear(x, weight(b, "fc.weight", [features, features / groups]), undefined, { groups }),
  );
  return b.build();
}
