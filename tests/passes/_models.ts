/**
 * Small training-time graphs for the pass tests, written the way the official
 * PyTorch code computes them (DingXiaoH/RepMLP repmlp.py and repmlpnet.py):
 * same reshapes, permutes and parameter names. Weights are seeded by name,
 * BatchNorm statistics are far from identity so that folding is exercised.
 */
import { GraphBuilder, hashString, type Node, sizeOf, uniform } from "../../ir/mod.ts";

/** A builder plus seeded, named parameters. */
export class Model {
  readonly b: GraphBuilder;
  constructor(name: string, readonly seed = 1) {
    this.b = new GraphBuilder(name);
  }

  param(name: string, shape: readonly number[], low = -0.5, high = 0.5): Node<"weight"> {
    const data = uniform(sizeOf(shape), hashString(`${this.seed}/${name}`), low, high);
    return this.b.weight(name, shape, data);
  }

  bn(x: Node, prefix: string, axis = 1): Node {
    const c = x.type.shape[axis];
    return this.b.batchnorm(x, {
      gamma: this.param(`${prefix}.weight`, [c], 0.5, 1.5),
      beta: this.param(`${prefix}.bias`, [c]),
      mean: this.param(`${prefix}.running_mean`, [c]),
      variance: this.param(`${prefix}.running_var`, [c], 0.5, 2),
    }, { axis });
  }

  conv(
    x: Node,
    name: string,
    out: number,
    k: number,
    options: { pad?: number; stride?: number; groups?: number; bias?: boolean } = {},
  ): Node {
    const groups = options.groups ?? 1;
    const w = this.param(`${name}.weight`, [out, x.type.shape[1] / groups, k, k]);
    const bias = options.bias ? this.param(`${name}.bias`, [out]) : undefined;
    return this.b.conv2d(x, w, bias, {
      padding: options.pad ?? 0,
      stride: options.stride ?? 1,
      groups,
    });
  }

  convBn(
    x: Node,
    prefix: string,
    out: number,
    k: number,
    options: { pad?: number; stride?: number; groups?: number } = {},
  ): Node {
    return this.bn(this.conv(x, `${prefix}.conv`, out, k, options), `${prefix}.bn`);
  }

  linear(x: Node, name: string, out: number): Node {
    const k = x.type.shape[x.type.shape.length - 1];
    return this.b.linear(
      x,
      this.param(`${name}.weight`, [out, k]),
      this.param(`${name}.bias`, [out]),
    );
  }
}

/** Arguments of the v1 RepMLP block. */
export interface V1Config {
  c: number;
  o: number;
  hw: [number, number];
  part: [number, number];
  ks: readonly number[];
  reduction?: number;
  groups: number;
  batch?: number;
}

/** RepMLP v1 block (repmlp.py forward), input x of (N, C, H, W). */
export function v1Block(m: Model, x: Node, cfg: V1Config, prefix = ""): Node {
  const { c, o, groups } = cfg;
  const [H, W] = cfg.hw, [h, w] = cfg.part;
  const hp = H / h, wp = W / w;
  let inputs: Node;
  if (H !== h || W !== w) {
    let v: Node = m.b.avgpool(x, [h, w]);
    v = m.bn(v, `${prefix}avg.bn`);
    v = m.b.reshape(v, [-1, c * hp * wp]);
    v = m.linear(v, `${prefix}fc1_fc2.fc1`, (c * hp * wp) / (cfg.reduction ?? 1));
    v = m.b.relu(v);
    v = m.linear(v, `${prefix}fc1_fc2.fc2`, c * hp * wp);
    v = m.b.reshape(v, [-1, c, hp, 1, wp, 1]);
    inputs = m.b.add(m.b.reshape(x, [-1, c, hp, h, wp, w]), v);
  } else {
    inputs = m.b.reshape(x, [-1, c, hp, h, wp, w]);
  }
  const partitions = m.b.transpose(inputs, [0, 2, 4, 1, 3, 5]);
  let fc3: Node = m.b.reshape(partitions, [-1, c * h * w, 1, 1]);
  fc3 = m.b.conv2d(
    fc3,
    m.param(`${prefix}fc3.weight`, [o * h * w, (c * h * w) / groups, 1, 1]),
    undefined,
    { groups },
  );
  fc3 = m.b.reshape(fc3, [-1, o * h * w]);
  fc3 = m.bn(fc3, `${prefix}fc3_bn`);
  fc3 = m.b.reshape(fc3, [-1, hp, wp, o, h, w]);
  if (cfg.ks.length > 0) {
    const convInputs = m.b.reshape(partitions, [-1, c, h, w]);
    let convOut: Node | undefined;
    for (const k of cfg.ks) {
      const branch = m.convBn(convInputs, `${prefix}repconv${k}`, o, k, {
        pad: Math.floor(k / 2),
        groups,
      });
      convOut = convOut ? m.b.add(convOut, branch) : branch;
    }
    fc3 = m.b.add(fc3, m.b.reshape(convOut!, [-1, hp, wp, o, h, w]));
  }
  const out = m.b.transpose(fc3, [0, 3, 1, 4, 2, 5]);
  return m.b.reshape(out, [-1, o, H, W]);
}

/** A graph holding one v1 block. */
export function v1Graph(cfg: V1Config, seed = 1): ReturnType<GraphBuilder["build"]> {
  const m = new Model("repmlp-v1", seed);
  const x = m.b.input("x", [cfg.batch ?? 1, cfg.c, ...cfg.hw]);
  m.b.output("y", v1Block(m, x, cfg));
  return m.b.build();
}

/** Arguments of a RepMLPNet unit. */
export interface V2Config {
  c: number;
  hw: [number, number];
  part: [number, number];
  ks: readonly number[];
  sharesets: number;
  batch?: number;
}

/** RepMLPNet's RepMLPBlock (repmlpnet.py forward). */
export function v2Block(m: Model, x: Node, cfg: V2Config, prefix: string): Node {
  const { c, sharesets: s } = cfg;
  const [H, W] = cfg.hw, [h, w] = cfg.part;
  const hp = H / h, wp = W / w;
  let gv: Node = m.b.globalAvgpool(x);
  gv = m.conv(gv, `${prefix}gp.fc1`, c / 4, 1, { bias: true });
  gv = m.b.relu(gv);
  gv = m.conv(gv, `${prefix}gp.fc2`, c, 1, { bias: true });
  gv = m.b.sigmoid(gv);
  gv = m.b.reshape(gv, [-1, c, 1, 1]);
  const partitions = m.b.transpose(m.b.reshape(x, [-1, c, hp, h, wp, w]), [0, 2, 4, 1, 3, 5]);
  let fc3: Node = m.b.reshape(partitions, [-1, s * h * w, 1, 1]);
  fc3 = m.b.conv2d(fc3, m.param(`${prefix}fc3.weight`, [s * h * w, h * w, 1, 1]), undefined, {
    groups: s,
  });
  fc3 = m.b.reshape(fc3, [-1, s, h, w]);
  fc3 = m.bn(fc3, `${prefix}fc3_bn`);
  fc3 = m.b.reshape(fc3, [-1, hp, wp, s, h, w]);
  const convInputs = m.b.reshape(partitions, [-1, s, h, w]);
  let convOut: Node | undefined;
  for (const k of cfg.ks) {
    const branch = m.convBn(convInputs, `${prefix}repconv${k}`, s, k, {
      pad: Math.floor(k / 2),
      groups: s,
    });
    convOut = convOut ? m.b.add(convOut, branch) : branch;
  }
  if (convOut) fc3 = m.b.add(fc3, m.b.reshape(convOut, [-1, hp, wp, s, h, w]));
  const out = m.b.reshape(m.b.transpose(fc3, [0, 3, 1, 4, 2, 5]), [cfg.batch ?? 1, c, H, W]);
  return m.b.mul(out, gv);
}

/** RepMLPNetUnit: y = x + block(prebn1(x)); z = y + ffn(prebn2(y)). */
export function v2Unit(m: Model, x: Node, cfg: V2Config, prefix: string): Node {
  const y = m.b.add(x, v2Block(m, m.bn(x, `${prefix}prebn1`), cfg, `${prefix}repmlp_block.`));
  let f = m.convBn(m.bn(y, `${prefix}prebn2`), `${prefix}ffn_block.ffn_fc1`, cfg.c * 4, 1);
  f = m.b.gelu(f);
  f = m.convBn(f, `${prefix}ffn_block.ffn_fc2`, cfg.c, 1);
  return m.b.add(y, f);
}

/** A tiny RepMLPNet: embedding, one unit per stage, embeds between stages, head. */
export function v2Net(
  stages: readonly V2Config[],
  classes = 10,
  seed = 1,
): ReturnType<GraphBuilder["build"]> {
  const m = new Model("repmlpnet-small", seed);
  const batch = stages[0].batch ?? 1;
  const [H, W] = stages[0].hw;
  const image = m.b.input("x", [batch, 3, H * 2, W * 2]);
  let x: Node = m.b.relu(m.convBn(image, "conv_embedding", stages[0].c, 2, { stride: 2 }));
  stages.forEach((cfg, i) => {
    x = v2Unit(m, x, cfg, `stages.${i}.0.`);
    if (i + 1 < stages.length) {
      x = m.b.relu(m.convBn(x, `embeds.${i}`, stages[i + 1].c, 2, { stride: 2 }));
    }
  });
  x = m.bn(x, "head_norm");
  x = m.b.reshape(m.b.globalAvgpool(x), [batch, stages[stages.length - 1].c]);
  m.b.output("logits", m.linear(x, "head", classes));
  return m.b.build();
}
