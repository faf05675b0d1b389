"""Reference outputs of slimmable models at every size, from the NAM trainer itself.

Run through scripts/make-slim-references.sh (it makes the venv with
neural-amp-modeler 0.13.0 and torch 2.13.0). Writes into the folder given as the
only argument (nam-kernel/tests/slimmable/):

- input.wav: the shared input (mono float32 WAV, 48 kHz, N samples);
- <case>.nam: each model, exported by the trainer (`_get_export_dict()` or
  `export_container()`), with metadata.date pinned so files are reproducible;
- <case>.size<i>.wav: the trainer's output at size i for input.wav;
- cases.json: per case the model, the tolerance, and per size the size value
  fed to the model, the channels, the output file and the measured
  float32-vs-float64 difference.

How each output is computed (as ../shared/fixtures/README.md describes): load
the model back from the exported `.nam` dict (`init_from_nam`; a container's
submodel likewise), `eval()`, `torch.no_grad()`, set the slimming value
(`_net.set_slimming(v)`), `model(input, pad_start=True)` on the whole file.
A SlimmableContainer's size i is its submodel i (the trainer's PackedWaveNet
exports them with uniform `max_value`s); the value fed to nam-kernel is the
midpoint of that submodel's range.
"""

import json
import math
import struct
import sys
from copy import deepcopy
from pathlib import Path

import numpy as np
import torch

from nam.models._from_nam import init_from_nam
from nam.models.wavenet._packed_wavenet import PackedWaveNet
from nam.models.wavenet._wavenet_wrapper import WaveNet

SAMPLE_RATE = 48_000
NUM_SAMPLES = 3072
DATE = {"year": 2025, "month": 1, "day": 1, "hour": 0, "minute": 0, "second": 0}
TARGET_STD = 0.15


def make_input() -> np.ndarray:
    """Pluck + log sweep + noise burst + digital silence + pluck, peak about 0.6."""
    rng = np.random.default_rng(1234)
    t = np.arange(NUM_SAMPLES) / SAMPLE_RATE
    x = np.zeros(NUM_SAMPLES)
    x += 0.5 * np.exp(-t * 60.0) * np.sin(2 * np.pi * 196.0 * t)
    sweep = slice(500, 1700)
    ts = t[: sweep.stop - sweep.start]
    f0, f1, dur = 40.0, 12_000.0, ts[-1]
    phase = 2 * np.pi * f0 * dur / math.log(f1 / f0) * (np.exp(ts / dur * math.log(f1 / f0)) - 1)
    x[sweep] += 0.3 * np.sin(phase)
    x[1750:2050] += 0.25 * rng.standard_normal(300)
    x[2150:2600] = 0.0
    tp = t[: NUM_SAMPLES - 2600]
    x[2600:] = 0.45 * np.exp(-tp * 80.0) * np.sin(2 * np.pi * 330.0 * tp)
    return x.astype(np.float32)


def write_wav(path: Path, samples: np.ndarray) -> None:
    """Mono 32-bit IEEE float WAV (format tag 3, 16-byte fmt chunk)."""
    data = np.asarray(samples, dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, SAMPLE_RATE, SAMPLE_RATE * 4, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def layer_array(channels, kernel_sizes, dilations, activation, allowed, **extra):
    la = {
        "input_size": 1,
        "condition_size": 1,
        "channels": channels,
        "kernel_sizes": kernel_sizes,
        "dilations": dilations,
        "activation": activation,
        "head": {"out_channels": 1, "kernel_size": 1, "bias": True},
        "slimmable": {
            "method": "slice_channels_uniform",
            "kwargs": {"allowed_channels": allowed},
        },
    }
    la.update(extra)
    return la


A2_KERNELS = [6, 6, 15, 15, 6, 6]
A2_DILATIONS = [1, 7, 1, 13, 41, 101]

# Slimmable WaveNets the trainer can build (one layer array, no groups, no
# head 1x1, no FiLM, head rechannel kernel 1).
WAVENETS = {
    # Like ../shared/fixtures/wavenet_slimmable.nam.
    "slim_tanh": {
        "layers_configs": [
            layer_array(8, [3] * 6, [1, 2, 4, 8, 16, 32], "Tanh", [2, 4, 8])
        ],
        "head_scale": 0.02,
    },
    # Gated and blended layers (the halves of the sliced convolution), every
    # channel count allowed, a post-stack head.
    "slim_gating": {
        "layers_configs": [
            layer_array(
                5,
                [3, 3, 2, 3],
                [1, 2, 4, 8],
                [
                    {"name": "PairMultiply", "primary": "Tanh", "secondary": "Sigmoid"},
                    {"name": "PairBlend", "primary": "Tanh", "secondary": "Sigmoid"},
                    "ReLU",
                    {"name": "PairMultiply", "primary": "SiLU", "secondary": "Hardsigmoid"},
                ],
                [1, 2, 3, 4, 5],
            )
        ],
        "head": {"channels": 4, "activation": "ReLU", "out_channels": 1, "kernel_sizes": [3, 2]},
        "head_scale": 1.0,
    },
    # bottleneck < channels and the largest allowed entry below channels: at
    # full size (1.0) the trainer plays 4 residual channels, not 6.
    "slim_bottleneck": {
        "layers_configs": [
            layer_array(6, [3] * 5, [1, 2, 4, 8, 16], "Tanh", [2, 4], bottleneck=4)
        ],
        "head_scale": 0.02,
    },
    # Residual without layer 1x1.
    "slim_layer1x1_off": {
        "layers_configs": [
            layer_array(
                4, [3] * 4, [1, 2, 4, 8], "Tanh", [1, 2, 4],
                layer_1x1_config={"active": False, "groups": 1},
            )
        ],
        "head_scale": 0.02,
    },
    # A2-style (the trainer's default shape, shortened): LeakyReLU(0.01),
    # kernel sizes 6 and 15, channels 8 slimmable to 3 like the packed preset
    # (head rechannel kernel 1: slimmable needs it).
    "slim_a2": {
        "layers_configs": [
            layer_array(
                8, A2_KERNELS, A2_DILATIONS,
                {"name": "LeakyReLU", "negative_slope": 0.01}, [3, 5, 8],
            )
        ],
        "head_scale": 0.01,
    },
}

# The trainer's PackedWaveNet (its default training shape: A2 at 3 and 8
# channels), shortened, exported as a SlimmableContainer.
def a2_submodel(channels):
    return {
        "name": f"channels_{channels}",
        "config": {
            "layers_configs": [
                {
                    "input_size": 1,
                    "condition_size": 1,
                    "channels": channels,
                    "kernel_sizes": A2_KERNELS[:4],
                    "dilations": A2_DILATIONS[:4],
                    "activation": "LeakyReLU",
                    "gated": False,
                    "head": {"out_channels": 1, "kernel_size": 16, "bias": True},
                }
            ],
            "head_scale": 0.01,
        },
    }


CONTAINER = {"submodels": [a2_submodel(3), a2_submodel(8)], "export": {"container_max_values": "uniform"}}


def pin(doc):
    doc.setdefault("metadata", {})["date"] = dict(DATE)
    return doc


def run(model, x, value, dtype):
    model = deepcopy(model).to(dtype)
    model.eval()
    if value is not None:
        model._net.set_slimming(value)
    with torch.no_grad():
        return model(torch.tensor(x, dtype=dtype), pad_start=True).numpy().astype(np.float64)


def scale_head(doc, gain):
    """Scales the output by `gain` (the output is linear in head_scale), keeping
    `metadata.loudness` true, as the trainer's own output-scaling hook does."""
    doc["config"]["head_scale"] *= gain
    doc["weights"][-1] *= gain
    metadata = doc.get("metadata", {})
    if "loudness" in metadata:
        metadata["loudness"] += 20.0 * math.log10(gain)


def main(out: Path):
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    x = make_input()
    write_wav(out / "input.wav", x)
    cases = []
    for i, (name, config) in enumerate(WAVENETS.items()):
        torch.manual_seed(100 + i)
        model = WaveNet.init_from_config(deepcopy(config))
        doc = model._get_export_dict()
        loaded = init_from_nam(json.loads(json.dumps(doc)))
        # Scale so the full-size output has a standard deviation of about 0.15.
        std = float(np.std(run(loaded, x, 1.0, torch.float32)))
        scale_head(doc, TARGET_STD / std)
        pin(doc)
        (out / f"{name}.nam").write_text(json.dumps(doc))
        loaded = init_from_nam(json.loads((out / f"{name}.nam").read_text()))
        allowed = doc["config"]["layers"][0]["slimmable"]["kwargs"]["allowed_channels"]
        n = len(allowed)
        sizes = []
        for level, channels in enumerate(allowed):
            value = (level + 0.5) / n if level + 1 < n else 1.0
            y32 = run(loaded, x, value, torch.float32)
            y64 = run(loaded, x, value, torch.float64)
            path = f"{name}.size{level}.wav"
            write_wav(out / path, y32)
            sizes.append({
                "value": value, "channels": channels, "output": path,
                "f32_vs_f64": float(np.max(np.abs(y32 - y64))),
                "output_rms": float(np.sqrt(np.mean(y32 ** 2))),
            })
        cases.append({"name": name, "model": f"{name}.nam",
                      "receptive_field": loaded.receptive_field, "sizes": sizes})
        print(name, [s["channels"] for s in sizes], "RF", loaded.receptive_field)

    torch.manual_seed(200)
    packed = PackedWaveNet.init_from_config(deepcopy(CONTAINER))
    tmp = out / ".container-export"
    tmp.mkdir(exist_ok=True)
    doc = packed.export_container(tmp, basename="slim_container")
    (tmp / "slim_container.nam").unlink()
    tmp.rmdir()
    doc = json.loads(json.dumps(doc))
    for s in doc["config"]["submodels"]:
        sub = init_from_nam(s["model"])
        std = float(np.std(run(sub, x, None, torch.float32)))
        scale_head(s["model"], TARGET_STD / std)
        pin(s["model"])
    # As the trainer's export: the container's metadata is its largest submodel's.
    last = doc["config"]["submodels"][-1]["model"]["metadata"]
    if "loudness" in last:
        doc["metadata"]["loudness"] = last["loudness"]
    pin(doc)
    (out / "slim_container.nam").write_text(json.dumps(doc))
    doc = json.loads((out / "slim_container.nam").read_text())
    sizes = []
    low = 0.0
    for level, s in enumerate(doc["config"]["submodels"]):
        sub = init_from_nam(s["model"])
        y32 = run(sub, x, None, torch.float32)
        y64 = run(sub, x, None, torch.float64)
        path = f"slim_container.size{level}.wav"
        write_wav(out / path, y32)
        sizes.append({
            "value": (low + s["max_value"]) / 2, "channels": s["model"]["config"]["layers"][0]["channels"],
            "output": path, "f32_vs_f64": float(np.max(np.abs(y32 - y64))),
            "output_rms": float(np.sqrt(np.mean(y32 ** 2))),
        })
        low = s["max_value"]
    cases.append({"name": "slim_container", "model": "slim_container.nam", "sizes": sizes})
    print("slim_container", [s["channels"] for s in sizes])

    worst = max(s["f32_vs_f64"] for c in cases for s in c["sizes"])
    for c in cases:
        # 1e-5 as in ../shared/fixtures, more where float32 rounding is larger.
        c["tolerance"] = max(1e-5, 10 * max(s["f32_vs_f64"] for s in c["sizes"]))
    index = {
        "nam_version": __import__("nam").__version__,
        "torch_version": torch.__version__,
        "sample_rate": SAMPLE_RATE,
        "input": "input.wav",
        "num_samples": NUM_SAMPLES,
        "cases": cases,
    }
    (out / "cases.json").write_text(json.dumps(index, indent=1) + "\n")
    print("worst float32 vs float64:", worst)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
