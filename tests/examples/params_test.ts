/**
 * Parameter counts and checkpoint keys of the examples: hand-computed counts
 * for small configs, the counts PyTorch reports for the official modules
 * (training and deploy=True, from tests/fixtures/torch/examples.json), the
 * official keys and shapes, supplied weights, and config errors.
 */
import assert from "node:assert/strict";
import {
  buildRepmlpBlock,
  buildRepmlpNet,
  buildRepmlpResnet,
  EXAMPLES,
  planRepmlpResnet,
  REPMLP_RESNET_TINY,
  REPMLPNET_B224,
  REPMLPNET_TINY,
  repmlpNetParameters,
  repmlpRes50Config,
} from "../../examples/mod.ts";
import { type Graph, RefoldError, topoOrder } from "../../ir/mod.ts";

const fixture = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/torch/examples.json", import.meta.url)),
) as { examples: Record<string, { training: number; deployed: number }> };

function weightShapes(graph: Graph): Map<string, readonly number[]> {
  const shapes = new Map<string, readonly number[]>();
  for (const node of topoOrder(graph)) {
    if (node.op === "weight") shapes.set(node.attrs.name, node.type.shape);
  }
  return shapes;
}

Deno.test("every example's counts equal PyTorch's (training and deploy=True modules)", () => {
  assert.deepEqual(Object.keys(fixture.examples).sort(), Object.keys(EXAMPLES).sort());
  for (const [name, example] of Object.entries(EXAMPLES)) {
    const expected = fixture.examples[name];
    assert.equal(example.trainingParameters(), expected.training, `${name} training`);
    assert.equal(example.deployedParameters(), expected.deployed, `${name} deployed`);
  }
});

Deno.test("hand-computed counts of small configs", () => {
  // repmlp-block: C=O=8, 12x12 in 6x6 partitions (hp=wp=2), k=(1,3,5), r=2, g=4.
  const gp = (32 * 16 + 16) + (16 * 32 + 32); // fc1 32 -> 16, fc2 16 -> 32
  const fc3 = 288 * 72; // (O*h*w, C*h*w/g)
  const branches = (8 * 2 * 1 + 32) + (8 * 2 * 9 + 32) + (8 * 2 * 25 + 32);
  const block = EXAMPLES["repmlp-block"];
  assert.equal(block.trainingParameters(), gp + 4 * 8 + fc3 + 4 * 288 + branches);
  assert.equal(block.deployedParameters(), gp + fc3 + 288);

  // C=8 -> O=12, 8x12 in 4x6 partitions, k=(5,1,3), r=2, g=4.
  const cne = EXAMPLES["repmlp-block-c-ne-o"];
  const cneFc3 = 12 * 24 * (8 * 24 / 4);
  const cneBranches = (12 * 2 * 25 + 48) + (12 * 2 + 48) + (12 * 2 * 9 + 48);
  assert.equal(cne.trainingParameters(), gp + 32 + cneFc3 + 4 * 288 + cneBranches);
  assert.equal(cne.deployedParameters(), gp + cneFc3 + 288);

  // Light block 16 -> 4 -> 32 with a projection shortcut; RepMLP on 4 channels, 2x2 partitions.
  const convs = (16 * 4 + 16) + (4 * 32 + 128) + (16 * 32 + 128);
  const inner = (16 * 16 + 16) * 2 + 16 + 64 * 32 + 256 + (8 + 16) + (72 + 16) + (200 + 16);
  assert.equal(EXAMPLES["light-block"].trainingParameters(), convs + inner);

  // repmlpnet-tiny: stage 0 (C=8, 4x4, S=2, 2 units), stage 1 (C=16, 2x2, S=4, 1 unit).
  const embed = 3 * 8 * 16 + 32;
  const unit0 = 64 + (16 + 2 + 16 + 8) + 512 + 8 + (2 + 8) + (18 + 8) + (256 + 128) + (256 + 32);
  const unit1 = 128 + (64 + 4 + 64 + 16) + 64 + 16 + (4 + 16) + (36 + 16) + (1024 + 256) +
    (1024 + 64);
  const tail = 8 * 16 * 4 + 64 + 64 + 16 * 10 + 10; // embeds.0, head_norm, head
  assert.equal(repmlpNetParameters(REPMLPNET_TINY, "training"), embed + 2 * unit0 + unit1 + tail);
  // Official locality injection: fc3_bn and repconvs go, fc3 gains a bias of S*h*w.
  const official = embed + 2 * (unit0 - 8 - 10 - 26 + 32) + (unit1 - 16 - 20 - 52 + 16) + tail;
  assert.equal(repmlpNetParameters(REPMLPNET_TINY, "official"), official);
  // Folded: conv+BN -> conv+bias, prebn1 -> scale+shift, prebn2 into ffn_fc1, head_norm into head.
  const folded = (384 + 8) + 2 * (16 + 42 + 512 + 32 + (256 + 32) + (256 + 8)) + (512 + 16) +
    (32 + 148 + 64 + 16 + (1024 + 64) + (1024 + 16)) + 170;
  assert.equal(repmlpNetParameters(REPMLPNET_TINY, "folded"), folded);
});

Deno.test("B224 has the paper's 68.2M parameters and the official keys", () => {
  // 68.2M counts learnable parameters; the training count adds 2 running stats per BN channel.
  const shapes = weightShapes(buildRepmlpNet(REPMLPNET_B224));
  let learnable = 0;
  for (const [name, shape] of shapes) {
    if (!/running_(mean|var)$/.test(name)) learnable += shape.reduce((a, d) => a * d, 1);
  }
  assert.equal((learnable / 1e6).toFixed(1), "68.2");
  assert.deepEqual(shapes.get("stages.0.0.repmlp_block.fc3.weight"), [3136, 3136, 1, 1]);
  assert.deepEqual(shapes.get("stages.2.11.repmlp_block.fc3.weight"), [32 * 196, 196, 1, 1]);
  assert.deepEqual(shapes.get("stages.3.1.repmlp_block.repconv3.conv.weight"), [128, 1, 3, 3]);
  assert.deepEqual(shapes.get("stages.1.0.repmlp_block.fc3_bn.running_var"), [4]);
  assert.deepEqual(shapes.get("stages.1.0.repmlp_block.gp.fc1.weight"), [48, 192, 1, 1]);
  assert.deepEqual(shapes.get("stages.1.0.ffn_block.ffn_fc2.conv.weight"), [192, 768, 1, 1]);
  assert.deepEqual(shapes.get("embeds.2.bn.weight"), [768]);
  assert.deepEqual(shapes.get("conv_embedding.conv.weight"), [96, 3, 4, 4]);
  assert.deepEqual(shapes.get("head.weight"), [1000, 768]);
});

Deno.test("official keys of the RepMLP-ResNet and ResNet-50 examples", () => {
  const light = weightShapes(EXAMPLES["repmlp-resnet50-light-224"].build());
  assert.deepEqual(light.get("stage2.1.light_repmlp.fc3.weight"), [64 * 49, 64 * 49 / 4, 1, 1]);
  assert.deepEqual(light.get("stage2.1.light_repmlp.fc1_fc2.fc1.weight"), [1024, 1024]);
  assert.deepEqual(light.get("stage3.5.light_repmlp.repconv5.conv.weight"), [128, 32, 5, 5]);
  assert.equal(light.has("stage3.0.light_repmlp.fc3.weight"), false); // stride-2 block is a BaseBlock
  assert.deepEqual(light.get("stage3.0.shortcut.conv.weight"), [1024, 512, 1, 1]);
  assert.equal(light.has("stage3.5.light_repmlp.avg.bn.weight"), true); // 14x14 in 7x7: 4 partitions
  const bottleneck = weightShapes(EXAMPLES["repmlp-resnet50-bottleneck-224"].build());
  assert.deepEqual(bottleneck.get("stage2.1.btnk_conv2.conv.weight"), [64, 128, 3, 3]); // r=2
  assert.deepEqual(bottleneck.get("stage3.1.btnk_repmlp.fc3.weight"), [64 * 49, 64 * 49 / 8, 1, 1]);
  const resnet = weightShapes(EXAMPLES["resnet50"].build());
  assert.deepEqual(resnet.get("layer4.0.downsample.0.weight"), [2048, 1024, 1, 1]);
  assert.deepEqual(resnet.get("layer3.5.bn3.running_var"), [1024]);
  assert.deepEqual(resnet.get("fc.weight"), [1000, 2048]);
});

Deno.test("a weight source supplies values by key; bad lengths are refused", () => {
  const config = {
    C: 4,
    O: 4,
    H: 4,
    W: 4,
    h: 4,
    w: 4,
    reparamConvK: [3],
    fc1Fc2Reduction: 1,
    fc3Groups: 1,
  };
  const ones = (name: string, shape: readonly number[]) =>
    name === "fc3_bn.running_var" ? new Float32Array(shape[0]).fill(1) : undefined;
  // A partial source is an error unless the seeded fallback is asked for by name.
  assert.throws(
    () => buildRepmlpBlock(config, { weights: ones }),
    (error: Error) =>
      error instanceof RefoldError &&
      error.message === 'weight "fc3.weight" [64,64,1,1]: the weight source does not supply it',
  );
  const graph = buildRepmlpBlock(config, { weights: ones, fallback: "seeded" });
  const variance = topoOrder(graph).find((node) =>
    node.op === "weight" && node.attrs.name === "fc3_bn.running_var"
  )!;
  assert.deepEqual([...variance.data!], new Array(64).fill(1));
  assert.throws(
    () => buildRepmlpBlock(config, { weights: () => new Float32Array(3) }),
    (error: Error) => error instanceof RefoldError && /supplied 3 values/.test(error.message),
  );
});

Deno.test("impossible configs fail with one-line errors", () => {
  const base = {
    C: 8,
    O: 8,
    H: 8,
    W: 8,
    h: 4,
    w: 4,
    reparamConvK: [1, 3],
    fc1Fc2Reduction: 1,
    fc3Groups: 2,
  };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ h: 3 }, /8x8 is not divisible into 3x4/],
    [{ fc3Groups: 3 }, /not divisible by 3/],
    [{ reparamConvK: [2] }, /must be odd/],
    [{ reparamConvK: [3, 3] }, /repeats a size/],
    [{ fc1Fc2Reduction: 64 }, /leaves fc1 without outputs/],
    [{ C: 0 }, /C=0 must be an integer >= 1/],
  ];
  for (const [change, message] of cases) {
    assert.throws(
      () => buildRepmlpBlock({ ...base, ...change } as typeof base),
      (error: Error) =>
        error instanceof RefoldError && message.test(error.message) &&
        !error.message.includes("\n"),
      JSON.stringify(change),
    );
  }
  assert.throws(
    () => buildRepmlpNet({ ...REPMLPNET_TINY, sharesetsNums: [3, 4] }),
    /8 channels are not divisible into 3 share-sets/,
  );
  assert.throws(() => buildRepmlpNet({ ...REPMLPNET_TINY, imgH: 36 }), /not divisible into 4x4/);
  assert.throws(() => EXAMPLES["resnet-tiny"].build({ batch: 0 }), /batch 0 must be >= 1/);
});

Deno.test("RepMLP-ResNet builds at other resolutions, and says why it cannot", () => {
  const at448 = planRepmlpResnet(repmlpRes50Config("light", 448));
  const stage2 = at448.find((block) => block.prefix === "stage2.1");
  assert.ok(stage2 && stage2.kind === "light");
  assert.equal(stage2.config.H, 56); // 8x8 partitions of 7x7: a bigger global perceptron
  const tiny = buildRepmlpResnet({ ...REPMLP_RESNET_TINY, imgH: 128, imgW: 64 });
  assert.deepEqual(tiny.inputs[0].type.shape, [1, 3, 128, 64]);
  assert.throws(
    () => buildRepmlpResnet(repmlpRes50Config("light", 320)),
    /stage2\.1\.light_repmlp: 40x40 is not divisible into 7x7/,
  );
});
