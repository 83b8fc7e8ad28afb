// The RepVGG and MobileOne builders (examples/) against the official modules: the reduced
// fixtures' PyTorch state_dicts load by official key, every key used and none missing, and the
// built graph gives PyTorch's float64 output; deployed, the published form. Full-size configs
// give the papers' parameter counts, and `deploy` builds the converted checkpoints' layout.
import assert from "node:assert/strict";
import { runPipeline } from "../../compiler/mod.ts";
import {
  buildMobileone,
  buildRepvgg,
  MOBILEONE_CONFIGS,
  type MobileoneConfig,
  mobileoneParameters,
  REPVGG_CONFIGS,
  type RepvggConfig,
  repvggParameters,
} from "../../examples/mod.ts";
import { readSafetensors } from "../../formats/safetensors.ts";
import { type Graph, interpret, RefoldError, summarize, topoOrder } from "../../ir/mod.ts";
import { assertClose } from "../_assert.ts";
import {
  FAMILIES,
  familyExpected,
  familyInput,
  familyModels,
  float32Tolerance,
  PUBLISHED,
} from "./_fixtures.ts";

/** The fixtures' reduced networks: the official layouts at 1/16 width, 64x64, 10 classes. */
const REPVGG_SMALL: RepvggConfig = {
  numBlocks: [2, 4, 14, 1],
  widthMultiplier: [0.0625, 0.0625, 0.0625, 0.125],
  numClasses: 10,
  height: 64,
  width: 64,
};
const MOBILEONE_SMALL: MobileoneConfig = {
  numBlocksPerStage: [2, 8, 10, 1],
  widthMultipliers: [0.0625, 0.0625, 0.0625, 0.125],
  numConvBranches: 4,
  useSe: false,
  numClasses: 10,
  height: 64,
  width: 64,
};

type Form = "training" | "deploy";

const weightNames = (graph: Graph) =>
  topoOrder(graph).flatMap((node) => node.op === "weight" ? [node.attrs.name] : []);

const CASES = [
  { name: "repvgg_a0_small", build: (o = {}) => buildRepvgg(REPVGG_SMALL, o) },
  { name: "mobileone_s0_small", build: (o = {}) => buildMobileone(MOBILEONE_SMALL, o) },
] as const;

for (const { name, build } of CASES) {
  Deno.test(`${name}: the builder reads PyTorch's state_dict by key and computes its output`, async () => {
    const model = familyModels().find((m) => m.name === name)!;
    const state = await readSafetensors(FAMILIES + model.state_dict);
    const used = new Set<string>();
    const training = build({
      weights: (key: string, shape: readonly number[]) => {
        const tensor = state.get(key);
        if (!tensor) throw new RefoldError(`state_dict has no "${key}"`);
        assert.deepEqual(tensor.shape, shape, key);
        used.add(key);
        return tensor.data;
      },
    });
    assert.deepEqual([...state.keys()].filter((key) => !used.has(key)), []);
    assert.equal(weightNames(training).length, state.size);
    const x = familyInput(name), expected = familyExpected(name);
    // The same float32 weights in float64: only the order of the sums differs from PyTorch.
    assertClose(interpret(training, { x }).logits, expected, 1e-12, "training graph");
    const deployed = runPipeline(training).graph;
    assert.deepEqual(summarize(deployed).ops, PUBLISHED[name]);
    assertClose(
      interpret(deployed, { x }).logits,
      expected,
      float32Tolerance(model, 3),
      "deployed",
    );
  });
}

Deno.test("parameter counts: the builders' graphs, their formulas, PyTorch's state_dict", async () => {
  const cases = [
    { name: "repvgg_a0_small", formula: (f: Form) => repvggParameters(REPVGG_SMALL, f) },
    { name: "mobileone_s0_small", formula: (f: Form) => mobileoneParameters(MOBILEONE_SMALL, f) },
  ];
  for (const [i, { name, formula }] of cases.entries()) {
    const training = CASES[i].build();
    assert.equal(summarize(training).parameters, formula("training"), name);
    assert.equal(summarize(runPipeline(training).graph).parameters, formula("deploy"), name);
    const state = await readSafetensors(`${FAMILIES}${name}.safetensors`);
    const stored = [...state.values()].reduce((total, t) => total + t.data.length, 0);
    assert.equal(stored, formula("training"), `${name}: PyTorch's parameters and BN statistics`);
  }
});

Deno.test("RepVGG A0-B3 (g2, g4) and MobileOne S0-S4 have the papers' deployed parameters", () => {
  // RepVGG Table 3 (millions, two decimals as printed); MobileOne Table 8 (one decimal).
  const repvgg: Record<string, number> = {
    "RepVGG-A0": 8.30,
    "RepVGG-A1": 12.78,
    "RepVGG-A2": 25.49,
    "RepVGG-B0": 14.33,
    "RepVGG-B1": 51.82,
    "RepVGG-B1g2": 41.36,
    "RepVGG-B1g4": 36.12,
    "RepVGG-B2": 80.31,
    "RepVGG-B2g4": 55.77,
    "RepVGG-B3": 110.96,
    "RepVGG-B3g4": 75.62,
  };
  for (const [name, millions] of Object.entries(repvgg)) {
    const count = repvggParameters(REPVGG_CONFIGS[name], "deploy");
    assert.equal(Math.floor(count / 1e4) / 100, millions, `${name}: ${count}`);
  }
  const mobileone: Record<string, number> = {
    "MobileOne-S0": 2.1,
    "MobileOne-S1": 4.8,
    "MobileOne-S2": 7.8,
    "MobileOne-S3": 10.1,
    "MobileOne-S4": 14.8,
  };
  for (const [name, millions] of Object.entries(mobileone)) {
    const count = mobileoneParameters(MOBILEONE_CONFIGS[name], "deploy");
    assert.equal(Number((count / 1e6).toFixed(1)), millions, `${name}: ${count}`);
  }
});

Deno.test("full-size RepVGG-A0, B1g4 and MobileOne-S0, S4 deploy to one conv per block", () => {
  for (
    const [name, graph, blocks, config] of [
      ["RepVGG-A0", buildRepvgg(REPVGG_CONFIGS["RepVGG-A0"]), 22, REPVGG_CONFIGS["RepVGG-A0"]],
      [
        "RepVGG-B1g4",
        buildRepvgg(REPVGG_CONFIGS["RepVGG-B1g4"]),
        28,
        REPVGG_CONFIGS["RepVGG-B1g4"],
      ],
      ["MobileOne-S0", buildMobileone(MOBILEONE_CONFIGS["MobileOne-S0"]), 43, undefined],
      ["MobileOne-S4", buildMobileone(MOBILEONE_CONFIGS["MobileOne-S4"]), 43, undefined],
    ] as const
  ) {
    const deployed = runPipeline(graph).graph;
    const ops = summarize(deployed).ops;
    // S4 squeeze-excites 12 blocks: pool, two FCs (1x1 convs on 1x1 maps), ReLU, sigmoid, mul.
    const se = name === "MobileOne-S4" ? 12 : 0;
    assert.deepEqual(ops, {
      conv2d: blocks,
      relu: blocks + se,
      global_avgpool: 1 + se,
      reshape: 1 + 2 * se,
      linear: 1 + 2 * se,
      ...(se ? { sigmoid: se, mul: se } : {}),
    }, name);
    if (config) {
      assert.equal(summarize(deployed).parameters, repvggParameters(config, "deploy"), name);
    }
  }
});

Deno.test("deploy builds the converted checkpoints' layout, which the pipeline leaves as it is", () => {
  for (const graph of [CASES[0].build({ deploy: true }), CASES[1].build({ deploy: true })]) {
    const names = weightNames(graph);
    assert.ok(names.every((n) => /(rbr_reparam|reparam_conv)\.(weight|bias)$|^linear\./.test(n)));
    const { graph: deployed, reports } = runPipeline(graph);
    assert.deepEqual(summarize(deployed).ops, summarize(graph).ops);
    assert.ok(
      !reports.some((r) => r.changed && r.pass !== "canonicalize"),
      JSON.stringify(reports),
    );
  }
});

Deno.test("impossible configs are one-line errors naming the model", () => {
  assert.throws(
    () => buildRepvgg({ ...REPVGG_SMALL, overrideGroupsMap: { 2: 3 } }),
    /RepVGG: stage1.1 has 4 -> 4 channels, not divisible by its 3 groups/,
  );
  assert.throws(
    () => buildMobileone({ ...MOBILEONE_SMALL, numConvBranches: 0 }),
    /MobileOne: numConvBranches 0 must be an integer >= 1/,
  );
  assert.throws(() => buildRepvgg({ ...REPVGG_SMALL, height: 16 }), /at least 32x32/);
});
