#!/usr/bin/env python3
"""GuitarML WaveNet references for nam-kernel/tests/guitarml.rs.

Writes generated GuitarML WaveNet model files (the JSON PedalNetRT's export.py
writes and SmartGuitarAmp / SmartGuitarPedal load) with seeded random weights,
a test signal (input.f32), and for every model in the folder (generated or
real) its output on that signal (MODEL.f32), computed here in float64 NumPy
straight from the format's definition:

    h_0    = W_in * x + b_in                                (input layer, 1x1)
    z_i    = causal dilated conv of h_i (taps W_conv, bias b_conv)
    a_i    = tanh(z_i[:C]) * sigmoid(z_i[C:])               ("gated")
           | softsign(z_i[:C]) * softsign(z_i[C:])          ("softgated")
           | f(z_i)                                         (plain activations)
    h_i+1  = h_i + W_out a_i + b_out                        (residual 1x1)
    y      = level_adjust * (W_mix [a_0; ...; a_L-1] + b_mix)

Every W is stored [tap][in][out] flattened, tap K-1 multiplying the newest
sample (PyTorch's (out, in, tap) permuted by export.py; SmartGuitarAmp's
Convolution::setKernel reads it so). The model starts settled on silence:
receptive_field - 1 zeros precede the signal and their outputs are dropped.

Usage: make-guitarml-references.py OUT_DIR
"""

import json
import pathlib
import sys

import numpy as np

SIGNAL_LEN = 4096

# name, channels, filter width, dilations, activation, level_adjust, numbers as strings
GENERATED = [
    ("gen_c4_k2_d8", 4, 2, [1, 2, 4, 8], "gated", None, True),
    ("gen_c8_k3_d32x2_level", 8, 3, [2**d for d in range(6)] * 2, "gated", 2.5, True),
    ("gen_c16_k3_d512_numbers", 16, 3, [2**d for d in range(10)], "gated", None, False),
    ("gen_c6_k4_softgated", 6, 4, [1, 3, 9], "softgated", None, True),
    ("gen_c5_k3_tanh", 5, 3, [1, 2, 4, 8, 16], "tanh", 0.0, True),
    ("gen_c3_k5_relu", 3, 5, [1, 5, 25], "relu", None, False),
]

ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "relu": lambda z: np.maximum(z, 0.0),
    "softsign": lambda z: z / (1.0 + np.abs(z)),
    "linear": lambda z: z,
}


def is_gated(activation):
    return activation in ("gated", "softgated")


def generate(rng, channels, width, dilations, activation, level, as_strings):
    """A model document with random float32 weights in GuitarML's layout."""
    mid = 2 * channels if is_gated(activation) else channels
    layers = len(dilations)

    def data(*shape, scale):
        values = (rng.standard_normal(shape) * scale).astype(np.float32).ravel()
        return [repr(float(v)) if as_strings else float(v) for v in values]

    variables = [
        {"layer_idx": -1, "data": data(1, 1, channels, scale=1.0), "name": "W"},
        {"layer_idx": -1, "data": data(channels, scale=0.5), "name": "b"},
    ]
    for i in range(layers):
        conv_scale = 1.5 / np.sqrt(channels * width)
        variables += [
            {"layer_idx": i, "data": data(width, channels, mid, scale=conv_scale), "name": "W_conv"},
            {"layer_idx": i, "data": data(mid, scale=0.2), "name": "b_conv"},
            {"layer_idx": i, "data": data(1, channels, channels, scale=0.8 / np.sqrt(channels)), "name": "W_out"},
            {"layer_idx": i, "data": data(channels, scale=0.1), "name": "b_out"},
        ]
    variables += [
        {"layer_idx": layers, "data": data(1, channels * layers, 1, scale=1.0 / np.sqrt(channels * layers)), "name": "W"},
        {"layer_idx": layers, "data": data(1, scale=0.1), "name": "b"},
    ]
    doc = {}
    if level is not None:
        doc["level_adjust"] = level
    doc.update(
        {
            "activation": activation,
            "output_channels": 1,
            "input_channels": 1,
            "residual_channels": channels,
            "filter_width": width,
            "dilations": dilations,
            "variables": variables,
        }
    )
    return doc


def variable(doc, layer_idx, *names):
    for v in doc["variables"]:
        if v["layer_idx"] == layer_idx and v["name"] in names:
            return np.array([float(x) for x in v["data"]], dtype=np.float32).astype(np.float64)
    raise KeyError(f"variable {names} of layer {layer_idx}")


def receptive_field(doc):
    return 1 + (doc["filter_width"] - 1) * sum(doc["dilations"])


def causal_conv(h, w, bias, width, dilation):
    """h: (in, T); w: [tap][in][out] flat; returns (out, T), zero history."""
    cin, frames = h.shape
    w = w.reshape(width, cin, -1)
    out = np.tile(bias[:, None], (1, frames))
    for tap in range(width):
        delay = (width - 1 - tap) * dilation
        shifted = np.zeros_like(h)
        shifted[:, delay:] = h[:, : frames - delay] if delay else h
        out += w[tap].T @ shifted
    return out


def run(doc, signal):
    """The model's output on `signal`, settled on silence before it."""
    channels = doc["residual_channels"]
    width = doc["filter_width"]
    dilations = doc["dilations"]
    activation = doc["activation"]
    assert doc.get("input_channels", 1) == 1 and doc.get("output_channels", 1) == 1
    warm = receptive_field(doc) - 1
    x = np.concatenate([np.zeros(warm), signal.astype(np.float64)])[None, :]
    h = variable(doc, -1, "W").reshape(1, channels).T @ x + variable(doc, -1, "b")[:, None]
    skips = []
    for i, dilation in enumerate(dilations):
        z = causal_conv(h, variable(doc, i, "W_conv", "W"), variable(doc, i, "b_conv", "b"), width, dilation)
        if activation == "gated":
            a = np.tanh(z[:channels]) * ACTIVATIONS["sigmoid"](z[channels:])
        elif activation == "softgated":
            a = ACTIVATIONS["softsign"](z[:channels]) * ACTIVATIONS["softsign"](z[channels:])
        else:
            a = ACTIVATIONS[activation](z)
        skips.append(a)
        w_out = variable(doc, i, "W_out").reshape(channels, channels)
        h = h + w_out.T @ a + variable(doc, i, "b_out")[:, None]
    layers = len(dilations)
    w_mix = variable(doc, layers, "W").reshape(channels * layers, 1)
    y = w_mix.T @ np.concatenate(skips) + variable(doc, layers, "b")[:, None]
    level = doc.get("level_adjust", 0.0) or 1.0
    return (level * y[0, warm:]).astype(np.float32)


def test_signal():
    """A 110 Hz sine with a chirp and seeded noise, peak below 1."""
    rng = np.random.default_rng(7)
    t = np.arange(SIGNAL_LEN) / 44_100.0
    sweep = np.sin(2 * np.pi * (80.0 + 2000.0 * t) * t)
    signal = 0.4 * np.sin(2 * np.pi * 110.0 * t) + 0.3 * sweep + 0.05 * rng.standard_normal(SIGNAL_LEN)
    return signal.astype(np.float32)


def main():
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261204)
    for name, channels, width, dilations, activation, level, as_strings in GENERATED:
        doc = generate(rng, channels, width, dilations, activation, level, as_strings)
        (out / f"{name}.json").write_text(json.dumps(doc))
    signal = test_signal()
    signal.tofile(out / "input.f32")
    for path in sorted(out.glob("*.json")):
        doc = json.loads(path.read_text())
        y = run(doc, signal)
        y.astype("<f4").tofile(path.with_suffix(".f32"))
        print(f"{path.name}: rf {receptive_field(doc)}, peak {np.abs(y).max():.3f}, rms {np.sqrt(np.mean(y**2)):.3f}")


if __name__ == "__main__":
    main()
