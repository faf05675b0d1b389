#!/usr/bin/env python3
"""Writes the generated RTNeural / AIDA-X test models of nam-kernel/tests/rtneural/.

Random weights (a fixed seed, so the files are reproducible) in the layouts
AIDA-X's trainer exports: Keras-style layer lists with LSTM or GRU layers,
optional hidden dense layers and a dense output; and RTNeural's conv1d
(dilated, grouped) and batchnorm layers in stacks of their own. Weights are uniform in
+-1/sqrt(units), PyTorch's initialisation range, so every gate is exercised.

usage: scripts/make-rtneural-models.py OUT_DIR
"""
import json
import random
import sys


def uniform(rng, scale, *shape):
    if len(shape) == 1:
        return [round(rng.uniform(-scale, scale), 7) for _ in range(shape[0])]
    return [uniform(rng, scale, *shape[1:]) for _ in range(shape[0])]


def recurrent(rng, kind, inputs, units, bias_rows=2):
    gates = 4 if kind == "lstm" else 3
    scale = units ** -0.5
    weights = [uniform(rng, scale, inputs, gates * units), uniform(rng, scale, units, gates * units)]
    if kind == "lstm":
        weights.append(uniform(rng, scale, gates * units))
    else:
        weights.append(uniform(rng, scale, bias_rows, gates * units))
    return {"type": kind, "activation": "", "shape": [None, None, units], "weights": weights}


def dense(rng, inputs, outputs, activation=""):
    scale = inputs ** -0.5
    return {
        "type": "dense",
        "activation": activation,
        "shape": [None, None, outputs],
        "weights": [uniform(rng, scale, inputs, outputs), uniform(rng, scale, outputs)],
    }


def conv1d(rng, inputs, outputs, kernel_size, dilation, groups=1, activation=""):
    """RTNeural's conv1d: kernel [kernel_size][inputs / groups][outputs], the
    first tap the oldest sample; a bias per output."""
    scale = (inputs // groups * kernel_size) ** -0.5
    layer = {
        "type": "conv1d",
        "activation": activation,
        "shape": [None, None, outputs],
        "kernel_size": [kernel_size],
        "dilation": [dilation],
        "weights": [uniform(rng, scale, kernel_size, inputs // groups, outputs), uniform(rng, scale, outputs)],
    }
    if groups != 1:
        layer["groups"] = groups
    return layer


def batchnorm(rng, size, affine=True, epsilon=0.001):
    """RTNeural's batchnorm: gamma, beta, running mean and variance (or only
    the mean and variance when not affine)."""
    mean = uniform(rng, 0.3, size)
    variance = [round(rng.uniform(0.2, 2.0), 7) for _ in range(size)]
    if affine:
        weights = [[round(rng.uniform(0.5, 1.5), 7) for _ in range(size)], uniform(rng, 0.3, size), mean, variance]
    else:
        weights = [mean, variance]
    return {"type": "batchnorm", "shape": [None, None, size], "epsilon": epsilon, "weights": weights}


def model(layers, **extra):
    doc = {"in_shape": [None, None, 1], "in_skip": 0}
    doc.update(extra)
    doc["layers"] = layers
    return doc


def models():
    rng = random.Random(20261203)
    yield "gen_gru8", model([recurrent(rng, "gru", 1, 8), dense(rng, 8, 1)],
                            metadata={"name": "gen_gru8", "samplerate": "48000"})
    yield "gen_gru40", model([recurrent(rng, "gru", 1, 40), dense(rng, 40, 1)], samplerate=44100)
    yield "gen_gru12_one_bias_row", model([recurrent(rng, "gru", 1, 12, bias_rows=1), dense(rng, 12, 1)])
    yield "gen_gru16x2", model([recurrent(rng, "gru", 1, 16), recurrent(rng, "gru", 16, 16), dense(rng, 16, 1)])
    yield "gen_lstm40", model([recurrent(rng, "lstm", 1, 40), dense(rng, 40, 1)])
    yield "gen_lstm20_dense_tanh", model([recurrent(rng, "lstm", 1, 20), dense(rng, 20, 8, "tanh"), dense(rng, 8, 1)])
    yield "gen_lstm8x2_relu", model([recurrent(rng, "lstm", 1, 8), recurrent(rng, "lstm", 8, 8),
                                     dense(rng, 8, 4, "relu"), dense(rng, 4, 1)])
    # RTNeural's other layers (after the ones above, so their weights stay as
    # they were). NeuralAudio reads a model whose first layer is an LSTM with
    # its own LSTM loader, so these start with another layer type.
    yield "gen_conv1d_gru", model([conv1d(rng, 1, 6, 4, 2, activation="tanh"), recurrent(rng, "gru", 6, 12),
                                   dense(rng, 12, 1)])
    yield "gen_conv1d_groups_batchnorm", model([conv1d(rng, 1, 4, 3, 1, activation="relu"), batchnorm(rng, 4),
                                                conv1d(rng, 4, 4, 5, 3, groups=2, activation="tanh"),
                                                recurrent(rng, "gru", 4, 8), dense(rng, 8, 1)])
    yield "gen_gru8_batchnorm_plain", model([recurrent(rng, "gru", 1, 8), batchnorm(rng, 8, affine=False, epsilon=1e-5),
                                             dense(rng, 8, 1)])
    yield "gen_conv1d_stack", model([conv1d(rng, 1, 8, 8, 1, activation="tanh"), conv1d(rng, 8, 1, 2, 4)])
    yield "gen_gru8_softmax", model([recurrent(rng, "gru", 1, 8), dense(rng, 8, 4, "softmax"), dense(rng, 4, 1)])


def main():
    out = sys.argv[1]
    for name, doc in models():
        with open(f"{out}/{name}.json", "w") as f:
            json.dump(doc, f, separators=(",", ":"))
            f.write("\n")


if __name__ == "__main__":
    main()
