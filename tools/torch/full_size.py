#!/usr/bin/python3
"""Full-size official checkpoints for `deno task torch-check` and `deno task bench compile`.

    /usr/bin/python3 tools/torch/full_size.py ARCH OUT_DIR [--onnx] [--deploy]

ARCH is RepMLPNet-T224, RepMLPNet-B224, RepVGG-A0 or MobileOne-S0. Builds the official
training-time module (as re-implemented, key for key, in tests/fixtures/torch/gen_examples.py and
family_models.py) with seeded weights and non-trivial BatchNorm statistics (for RepVGG and
MobileOne: measured on random batches, so that 22-43 plain blocks keep activations O(1)), and
writes to OUT_DIR:
  * ARCH.pth             model.state_dict() saved by torch.save, as the official releases are
  * ARCH.input.bin       a seeded input, batch 1, float32 little-endian
  * ARCH.expected.bin    PyTorch's eval output on it in float64
  * ARCH.onnx            with --onnx: torch.onnx.export as docs/onnx.md recommends
                         (opset 17, TrainingMode.PRESERVE)
  * ARCH.deploy.pth      with --deploy: the state_dict after the official conversion
                         (locality_injection: fc3 with bias, no fc3_bn, no conv branches;
                         repvgg_model_convert / reparameterize_model: one conv per block)
Needs Debian's python3-torch (and python3-onnx for --onnx); refold's own tests never run it.
"""

import os
import sys
import warnings

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "fixtures", "torch"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "fixtures", "torch", "checkpoints"))
import gen_examples as official  # noqa: E402
import gen_checkpoints  # noqa: E402


def repmlpnet(channels, blocks, sharesets):
    return dict(inChannels=3, numClass=1000, patchSize=[4, 4], numBlocks=blocks,
                channels=channels, hs=[56, 28, 14, 7], ws=[56, 28, 14, 7],
                sharesetsNums=sharesets, reparamConvK=[1, 3], globalperceptronReduce=4,
                imgH=224, imgW=224)


# create_RepMLPNet_T224 and create_RepMLPNet_B224 of the official repmlpnet.py.
CONFIGS = {
    "RepMLPNet-T224": repmlpnet([64, 128, 256, 512], [2, 2, 6, 2], [1, 4, 16, 128]),
    "RepMLPNet-B224": repmlpnet([96, 192, 384, 768], [2, 2, 12, 2], [1, 4, 32, 128]),
}
# create_RepVGG_A0 of the official repvgg.py and mobileone(variant="s0") of ml-mobileone, in
# refold's naming (examples/repvgg.ts, examples/mobileone.ts).
REPARAM = {
    "RepVGG-A0": ("repvgg", dict(numBlocks=[2, 4, 14, 1], widthMultiplier=[0.75, 0.75, 0.75, 2.5],
                                 numClasses=1000, height=224, width=224)),
    "MobileOne-S0": ("mobileone", dict(numBlocksPerStage=[2, 8, 10, 1],
                                       widthMultipliers=[0.75, 1.0, 1.0, 2.0], numConvBranches=4,
                                       useSe=False, numClasses=1000, height=224, width=224)),
}


def reparam_model(arch, generator):
    family, cfg = REPARAM[arch]
    model = gen_checkpoints.module_for(family, cfg, False)
    gen_checkpoints.randomize(model, generator)
    gen_checkpoints.calibrate(model, (3, 224, 224), generator)
    return model


def main(arch, out, onnx_too, deploy_too):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    if arch in REPARAM:
        return main_reparam(arch, out, onnx_too, deploy_too, generator)
    model = official.RepMLPNet(CONFIGS[arch])
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            with torch.no_grad():
                m.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                m.bias.copy_(torch.rand(n, generator=generator) * 0.5 - 0.25)
                m.running_mean.copy_(torch.rand(n, generator=generator) * 0.5 - 0.25)
                m.running_var.copy_(torch.rand(n, generator=generator) * 1.5 + 0.5)
    model.eval()
    torch.save(model.state_dict(), os.path.join(out, arch + ".pth"))
    x = torch.rand(1, 3, 224, 224, generator=generator) * 2 - 1
    with open(os.path.join(out, arch + ".input.bin"), "wb") as f:
        f.write(x.numpy().astype("<f4").tobytes())
    with torch.no_grad():
        y = official.RepMLPNet(CONFIGS[arch]).double().eval()
        y.load_state_dict(model.state_dict())
        y = y(x.double())
    with open(os.path.join(out, arch + ".expected.bin"), "wb") as f:
        f.write(y.numpy().astype("<f8").tobytes())
    if onnx_too:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, x, os.path.join(out, arch + ".onnx"), opset_version=17,
                              input_names=["x"], output_names=["y"],
                              training=torch.onnx.TrainingMode.PRESERVE)
    if deploy_too:
        _, state = gen_checkpoints.deploy_state("repmlpnet", CONFIGS[arch], model)
        torch.save(state, os.path.join(out, arch + ".deploy.pth"))
    print("%s: %d tensors, output %s, max|y| %.3f" % (
        arch, len(model.state_dict()), list(y.shape), y.abs().max().item()))


def main_reparam(arch, out, onnx_too, deploy_too, generator):
    family, cfg = REPARAM[arch]
    model = reparam_model(arch, generator)
    torch.save(model.state_dict(), os.path.join(out, arch + ".pth"))
    x = torch.rand(1, 3, 224, 224, generator=generator) * 2 - 1
    with open(os.path.join(out, arch + ".input.bin"), "wb") as f:
        f.write(x.numpy().astype("<f4").tobytes())
    y = gen_checkpoints.run(gen_checkpoints.module_for(family, cfg, False), model.state_dict(), x)
    with open(os.path.join(out, arch + ".expected.bin"), "wb") as f:
        f.write(y.numpy().astype("<f8").tobytes())
    if onnx_too:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model.float(), x, os.path.join(out, arch + ".onnx"),
                              opset_version=17, input_names=["x"], output_names=["y"],
                              training=torch.onnx.TrainingMode.PRESERVE)
    if deploy_too:
        deploy, state = gen_checkpoints.deploy_state(family, cfg, model)
        torch.save(state, os.path.join(out, arch + ".deploy.pth"))
        y32 = gen_checkpoints.run(deploy, state, x)
        print("%s: PyTorch's converted model (float32 weights) is %.1e off the training model" % (
            arch, ((y32 - y).abs().max() / y.abs().max()).item()))
    print("%s: %d tensors, output %s, max|y| %.3f" % (
        arch, len(model.state_dict()), list(y.shape), y.abs().max().item()))


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in {**CONFIGS, **REPARAM}:
        sys.exit("usage: full_size.py {%s} OUT_DIR [--onnx] [--deploy]" % ",".join(
            list(CONFIGS) + list(REPARAM)))
    main(sys.argv[1], sys.argv[2], "--onnx" in sys.argv[3:], "--deploy" in sys.argv[3:])
