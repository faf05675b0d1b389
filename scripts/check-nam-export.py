"""Checks that a `.nam` file written by `nam-tools train` loads in the NAM
trainer's own code and plays there as it does in nam-kernel.

Usage (run by tools/tests/train.rs with OMP_NUM_THREADS=1 in the venv of
scripts/nam-venv.sh: neural-amp-modeler 0.13.0, torch 2.13.0):

    check-nam-export.py MODEL.nam INPUT.f32 TOLERANCE EXPECTED.f32 [EXPECTED.f32 ...]

INPUT.f32 and each EXPECTED.f32 are raw little-endian float32 samples.
EXPECTED is nam-kernel's output for INPUT: one file for a plain model, one per
submodel (in order) for a SlimmableContainer, one per size (smallest first,
each played at the middle of its size values) for a slimmable WaveNet. Each model (a container's
submodels one by one, as the trainer exports them) is loaded with
`nam.models.init_from_nam` (a ConvNet, which that function does not know, is
built by the trainer's `ConvNet` class from the file's config and given the
weights in the order its `_export_weights` writes them; a WaveNet's
`condition_dsp` and PReLU slopes, which it leaves out, are put in after it),
run in eval mode with
`torch.no_grad()` on the whole input from silence (`pad_start=True`), and
compared sample by sample. A container's
`max_value`s must be the trainer's "uniform" ones. Prints one line per model;
exits 1 on any difference above TOLERANCE.
"""

import json
import sys

import numpy as np
import torch

from nam.models import init_from_nam
from nam.models._from_nam import _export_activation_to_init_format
from nam.models.conv_net import ConvNet


def load_convnet(document):
    """The trainer's ConvNet holding the file's weights, taken in the order of
    `ConvNet._export_weights`: per block the conv weight (and bias without
    batchnorm), then batchnorm's running mean, running variance, weight, bias
    and eps; the head's weight and bias."""
    config = dict(document["config"])
    activation = config["activation"]
    if isinstance(activation, dict):
        config["activation"] = _export_activation_to_init_format(activation)
    model = ConvNet(sample_rate=document.get("sample_rate"), **config)
    weights = torch.tensor(document["weights"], dtype=torch.float32)
    at = 0

    def take(tensor):
        nonlocal at
        n = tensor.numel()
        tensor.data.copy_(weights[at : at + n].reshape(tensor.shape))
        at += n

    for i in range(len(config["dilations"])):
        block = model._net._modules[f"block_{i}"]
        conv = block._modules["conv"]
        take(conv.weight)
        if conv.bias is not None:
            take(conv.bias)
        if config["batchnorm"]:
            bn = block._modules["batchnorm"]
            for tensor in (bn.running_mean, bn.running_var, bn.weight, bn.bias):
                take(tensor)
            bn.eps = float(weights[at])
            at += 1
    head = model._net._modules["head"]
    take(head.weight)
    take(head.bias)
    if at != weights.numel():
        sys.exit(f"ConvNet: {weights.numel()} weights in the file, {at} in the model")
    return model


def take_prelu_slopes(config):
    """Each PReLU's slopes in a WaveNet config's layers, array by array, layer
    by layer, primary before secondary; each PReLU object is replaced by the
    bare name (a single activation for all layers is first written out per
    layer)."""
    slopes = []
    for array in config["layers"]:
        count = len(array["dilations"])
        for key in ("activation", "secondary_activation"):
            if not isinstance(array.get(key), list):
                array[key] = [json.loads(json.dumps(array.get(key))) for _ in range(count)]
        for layer in range(count):
            for key in ("activation", "secondary_activation"):
                activation = array[key][layer]
                if isinstance(activation, dict) and activation.get("type") == "PReLU":
                    slopes.append(activation.get("negative_slopes", [activation.get("negative_slope", 0.25)]))
                    array[key][layer] = "PReLU"
    return slopes


def load_wavenet(document):
    """`init_from_nam` and what it leaves out: it drops a `condition_dsp`
    (loaded here the same way and put in its place) and cannot build a PReLU
    with its slopes (it fails on a single `negative_slope` or one inside a
    gated pair, and starts a list at 0.25), so each PReLU is built bare and
    then given the file's slopes; the trainer's PReLU modules come in the
    config's order."""
    config = json.loads(json.dumps(document["config"]))
    nested = config.pop("condition_dsp", None)
    slopes = take_prelu_slopes(config)
    model = init_from_nam(dict(document, config=config))
    modules = [m for m in model._net.modules() if isinstance(m, torch.nn.PReLU)]
    if len(modules) != len(slopes):
        sys.exit(f"WaveNet: {len(slopes)} PReLUs in the file, {len(modules)} in the model")
    for module, values in zip(modules, slopes):
        module.weight = torch.nn.Parameter(torch.tensor(values, dtype=torch.float32))
    if nested is not None:
        model._net._condition_dsp = load_wavenet(nested)._net
    return model


def play(document, signal, slimming=None):
    """The trainer's output for `signal` from the model `document` (a
    slimmable WaveNet at size value `slimming`, the trainer's `set_slimming`)."""
    if document["architecture"] == "ConvNet":
        model = load_convnet(document)
    elif document["architecture"] == "WaveNet":
        model = load_wavenet(document)
    else:
        model = init_from_nam(document)
    model.eval()
    if slimming is not None:
        model._net.set_slimming(slimming)
    with torch.no_grad():
        out = model(torch.from_numpy(signal), pad_start=True)
    return out.detach().cpu().numpy().astype(np.float32).reshape(-1)


def slimmable_levels(document):
    """The number of `allowed_channels` entries of a slimmable WaveNet (its
    one layer array's), else 0."""
    if document["architecture"] != "WaveNet":
        return 0
    for array in document["config"]["layers"]:
        slimmable = array.get("slimmable")
        if slimmable:
            return len(slimmable["kwargs"]["allowed_channels"])
    return 0


def main(argv):
    if len(argv) < 5:
        sys.exit(__doc__)
    path, input_path, tolerance = argv[1], argv[2], float(argv[3])
    expected_paths = argv[4:]
    with open(path) as fp:
        document = json.load(fp)
    signal = np.fromfile(input_path, dtype="<f4")
    if document["architecture"] == "SlimmableContainer":
        submodels = document["config"]["submodels"]
        n = len(submodels)
        uniform = [(i + 1) / n for i in range(n)]
        uniform[-1] = 1.0
        max_values = [s["max_value"] for s in submodels]
        if max_values != uniform:
            sys.exit(f"{path}: max_values {max_values} are not the trainer's uniform {uniform}")
        models = [(f"submodel {i}", s["model"], None) for i, s in enumerate(submodels)]
    elif slimmable_levels(document):
        # Each size at the middle of its range of size values.
        n = slimmable_levels(document)
        models = [(f"size {i}", document, (i + 0.5) / n) for i in range(n)]
    else:
        models = [(document["architecture"], document, None)]
    if len(models) != len(expected_paths):
        sys.exit(f"{path}: {len(models)} models but {len(expected_paths)} expected outputs")
    failed = False
    for (name, model, slimming), expected_path in zip(models, expected_paths):
        expected = np.fromfile(expected_path, dtype="<f4")
        got = play(model, signal, slimming)
        if got.shape != expected.shape:
            print(f"{path} {name}: {got.shape[0]} samples from the trainer, {expected.shape[0]} from nam-kernel")
            failed = True
            continue
        diff = float(np.max(np.abs(got - expected)))
        rms = float(np.sqrt(np.mean(expected.astype(np.float64) ** 2)))
        ok = diff <= tolerance and rms > 0.0
        print(f"{path} {name}: max |trainer - nam-kernel| = {diff:.3g} (output rms {rms:.3g}) {'ok' if ok else 'FAILED'}")
        failed |= not ok
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main(sys.argv)
