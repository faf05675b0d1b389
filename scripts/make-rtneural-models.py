#!/usr/bin/env python3
"""Writes the generated RTNeural / AIDA-X test models of nam-kernel/tests/rtneural/.

Random weights (a fixed seed, so the files are reproducible) in the layouts
AIDA-X's trainer exports: Keras-style layer lists with LSTM or GRU layers,
optional hidden dense layers and a dense output. Weights are uniform in
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


def main():
    out = sys.argv[1]
    for name, doc in models():
        with open(f"{out}/{name}.json", "w") as f:
            json.dump(doc, f, separators=(",", ":"))
            f.write("\n")


if __name__ == "__main__":
    main()
