/**
 * The registry: unique names, case-insensitive lookup, parameter counts that
 * equal the builders' own counts (themselves checked against PyTorch's
 * modules in tests/examples/params_test.ts), and the skipPasses claims of the
 * deploy layouts: skipping them changes nothing.
 */
import assert from "node:assert/strict";
import {
  ARCHITECTURES,
  buildArch,
  expectedTensors,
  findArch,
  formatArchList,
  parameterCount,
} from "../../arch/mod.ts";
import { PIPELINE, runPipeline } from "../../compiler/mod.ts";
import {
  EXAMPLES,
  MOBILEONE_CONFIGS,
  mobileoneParameters,
  REPMLPNET_B256,
  REPMLPNET_T256,
  repmlpNetParameters,
  REPVGG_CONFIGS,
  repvggParameters,
} from "../../examples/mod.ts";
import { printGraph, RefoldError } from "../../ir/mod.ts";
import { definitionOf, MANIFEST } from "./_fixtures.ts";

Deno.test("names are unique in any case and found in any case", () => {
  const lower = ARCHITECTURES.map((arch) => arch.name.toLowerCase());
  assert.equal(new Set(lower).size, lower.length);
  for (const arch of ARCHITECTURES) {
    assert.ok(arch.layouts.length >= 1, arch.name);
    assert.equal(new Set(arch.layouts.map((l) => l.name)).size, arch.layouts.length, arch.name);
    for (const layout of arch.layouts) {
      for (const pass of layout.skipPasses ?? []) {
        assert.ok(PIPELINE.some((each) => each.name === pass), `${arch.name}: no pass ${pass}`);
      }
    }
  }
  assert.equal(findArch("repmlpnet-t224").name, "RepMLPNet-T224");
  assert.equal(findArch("REPMLP-RES50-LIGHT-224").name, "RepMLP-Res50-Light-224");
  assert.throws(() => findArch("RepMLPNet-T225"), (error: Error) =>
    error instanceof RefoldError &&
    error.message.startsWith(
      'unknown architecture "RepMLPNet-T225"; the architectures are ' +
        "RepMLPNet-T224, RepMLPNet-B224,",
    ) &&
    error.message.endsWith(
      "Res50-224, RepVGG-A0, RepVGG-A1, RepVGG-A2, RepVGG-B0, RepVGG-B1, " +
        "RepVGG-B1g2, RepVGG-B1g4, RepVGG-B2, RepVGG-B2g2, RepVGG-B2g4, RepVGG-B3, RepVGG-B3g2, " +
        "RepVGG-B3g4, MobileOne-S0, MobileOne-S1, MobileOne-S2, MobileOne-S3, MobileOne-S4 " +
        "(see --arch list)",
    ));
  assert.equal(findArch("repvgg-b1G4").name, "RepVGG-B1g4");
  assert.equal(findArch("MOBILEONE-S0").name, "MobileOne-S0");
});

/** The registry name -> the example whose count functions PyTorch confirmed. */
const EXAMPLE_OF: Record<string, string> = {
  "RepMLPNet-T224": "repmlpnet-t224",
  "RepMLPNet-B224": "repmlpnet-b224",
  "RepMLPNet-D256": "repmlpnet-d256",
  "RepMLPNet-L256": "repmlpnet-l256",
  "RepMLP-Res50-Light-224": "repmlp-resnet50-light-224",
  "RepMLP-Res50-Bottleneck-224": "repmlp-resnet50-bottleneck-224",
};

Deno.test("every layout expects exactly the official state_dict's parameter count", () => {
  for (const arch of ARCHITECTURES) {
    const counts = Object.fromEntries(
      arch.layouts.map((layout) => [layout.name, parameterCount(expectedTensors(layout))]),
    );
    const example = EXAMPLES[EXAMPLE_OF[arch.name]];
    if (example) {
      assert.equal(counts.training, example.trainingParameters(), arch.name);
      assert.equal(counts.deploy, example.deployedParameters(), arch.name);
    }
    if (arch.name === "RepMLPNet-T256" || arch.name === "RepMLPNet-B256") {
      const config = arch.name === "RepMLPNet-T256" ? REPMLPNET_T256 : REPMLPNET_B256;
      assert.equal(counts.training, repmlpNetParameters(config, "training"));
      assert.equal(counts.deploy, repmlpNetParameters(config, "official"));
    }
    // The count formulas, checked against PyTorch's modules in tests/families/builders_test.ts.
    const repvgg = REPVGG_CONFIGS[arch.name], mobileone = MOBILEONE_CONFIGS[arch.name];
    if (repvgg) {
      assert.deepEqual({ ...counts }, {
        training: repvggParameters(repvgg, "training"),
        deploy: repvggParameters(repvgg, "deploy"),
      }, arch.name);
    }
    if (mobileone) {
      assert.deepEqual({ ...counts }, {
        training: mobileoneParameters(mobileone, "training"),
        deploy: mobileoneParameters(mobileone, "deploy"),
      }, arch.name);
    }
    if (arch.name === "Res50-224") {
      assert.equal(counts.torchvision, EXAMPLES.resnet50.trainingParameters());
      // The RepMLP repository's base network has torchvision's parameters under other keys.
      assert.equal(counts.training, counts.torchvision);
      assert.equal(counts.deploy, EXAMPLES.resnet50.deployedParameters());
    }
  }
});

Deno.test("--arch list shows every architecture with the counts of each layout", () => {
  const text = formatArchList();
  for (const arch of ARCHITECTURES) assert.match(text, new RegExp(`^  ${arch.name} `, "m"));
  assert.match(text, /RepMLPNet-B224 .*\n\s+parameters: training 68\.3M, deploy 68\.4M$/m);
  assert.match(text, /parameters: training 25\.6M, deploy 25\.5M, torchvision 25\.6M/);
  // The papers' deployed sizes: RepVGG-A0 8.30M, B3g4 75.62M; MobileOne-S0 2.1M, S4 14.8M.
  assert.match(
    text,
    /^ {2}RepVGG-A0 +RepVGG \(CVPR 2021\) A0, 224x224\n\s+parameters: training 9\.1M, deploy 8\.3M$/m,
  );
  assert.match(text, /^ {2}RepVGG-B3g4 .*\n\s+parameters: training 83\.9M, deploy 75\.6M$/m);
  assert.match(text, /^ {2}MobileOne-S0 .*\n\s+parameters: training 5\.4M, deploy 2\.1M$/m);
  assert.match(
    text,
    /^ {2}MobileOne-S4 .*squeeze-excite.*\n\s+parameters: training 15\.1M, deploy 14\.8M$/m,
  );
});

Deno.test("deploy layouts: the passes they skip report no change, and skipping them changes nothing", async () => {
  for (const name of Object.keys(MANIFEST.archs)) {
    const definition = definitionOf(name);
    for (const layout of definition.layouts) {
      if (!layout.skipPasses) continue;
      const { graph } = await buildArch(definition, { weights: "seeded", layout: layout.name });
      const full = runPipeline(graph);
      for (const report of full.reports) {
        if (layout.skipPasses.includes(report.pass)) {
          assert.equal(report.changed, false, `${name} ${layout.name}: ${report.pass}`);
        }
      }
      const passes = PIPELINE.map((pass) => pass.name).filter((p) =>
        !layout.skipPasses!.includes(p)
      );
      const skipped = runPipeline(graph, { passes });
      assert.equal(printGraph(skipped.graph), printGraph(full.graph), `${name} ${layout.name}`);
    }
  }
});

Deno.test("buildArch with seeded weights names an unknown layout", async () => {
  await assert.rejects(
    () => buildArch("RepMLPNet-T224", { weights: "seeded", layout: "fused" }),
    { message: 'RepMLPNet-T224 has no layout "fused" (training, deploy)' },
  );
});
