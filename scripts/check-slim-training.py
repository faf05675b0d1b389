"""The NAM trainer's side of the checks of slimmable training options
(`boosting`, `init_strategy`) in tools/tests/train.rs, and of the gradient of
models that are not slimmable (the tanh layers' folded sigmoid form).

Usage (run with OMP_NUM_THREADS=1 in the venv of scripts/nam-venv.sh:
neural-amp-modeler 0.13.0, torch 2.13.0):

    check-slim-training.py init CONFIG.json WEIGHTS.f32
    check-slim-training.py gradient MODEL.nam X.f32 Y.f32 ROWS SLIMMING GRADIENT.f32
    (SLIMMING `none` for a model that is not slimmable)

`init`: builds the trainer's WaveNet from CONFIG.json (a trainer model config,
`{"net": {"name": "WaveNet", "config": ...}}`) and compares which of its
initial weights (`_export_weights` order) are zero with WEIGHTS.f32, the
initial weights of nam-tools' model for the same config (raw little-endian
float32). Exits 1 where they differ, naming the first weights.

`gradient`: loads MODEL.nam with `init_from_nam` (its slimmable `kwargs` as
given, `boosting` included), sets the size value SLIMMING (`set_slimming`;
skipped for `none`) in training mode, and computes the gradient of the MSE between its training-mode output for the
ROWS rows of X.f32 (no padding) and the rows of Y.f32. Writes the gradient in
`_export_weights` order to GRADIENT.f32 (the last value, `head_scale`, is not
a parameter and is written as 0).
"""

import json
import sys

import numpy as np
import torch

from nam.models import init_from_nam
from nam.models.wavenet import WaveNet


def check_init(config_path, weights_path):
    with open(config_path) as fp:
        document = json.load(fp)
    torch.manual_seed(0)
    model = WaveNet.init_from_config(document["net"]["config"])
    theirs = model._export_weights().astype(np.float32)
    ours = np.fromfile(weights_path, dtype="<f4")
    if theirs.shape != ours.shape:
        sys.exit(f"{theirs.shape[0]} weights in the trainer's model, {ours.shape[0]} in ours")
    differ = np.flatnonzero((theirs == 0.0) != (ours == 0.0))
    zeros = int(np.sum(theirs == 0.0))
    print(f"{config_path}: {zeros} of {theirs.shape[0]} initial weights zero in the trainer's model, "
          f"{int(np.sum(ours == 0.0))} in ours; {differ.shape[0]} differ")
    if differ.shape[0]:
        sys.exit(f"zero in one model but not the other at weights {differ[:10].tolist()}")


def gradient(model_path, x_path, y_path, rows, slimming, out_path):
    with open(model_path) as fp:
        document = json.load(fp)
    model = init_from_nam(document)
    model.train()
    if slimming is not None:
        # The inner net at a fixed size: the wrapper's training-mode forward
        # would pick a random one (`context_adjust_to_random`).
        model._net.set_slimming(slimming)
    x = torch.from_numpy(np.fromfile(x_path, dtype="<f4").reshape(rows, -1))
    y = torch.from_numpy(np.fromfile(y_path, dtype="<f4").reshape(rows, -1))
    pred = model._net(x[:, None, :])[:, 0, :]
    loss = torch.nn.functional.mse_loss(pred, y)
    loss.backward()
    # The gradients in the export order: each parameter replaced by its gradient.
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.grad if p.grad is not None else torch.zeros_like(p))
    grads = model._export_weights().astype(np.float32)
    grads[-1] = 0.0
    grads.astype("<f4").tofile(out_path)
    size = "" if slimming is None else f" at size value {slimming}"
    print(f"{model_path}{size}: loss {loss.item():.6g}, "
          f"{int(np.sum(grads != 0.0))} of {grads.shape[0]} gradients nonzero")


def main(argv):
    if len(argv) == 4 and argv[1] == "init":
        check_init(argv[2], argv[3])
    elif len(argv) == 8 and argv[1] == "gradient":
        slimming = None if argv[6] == "none" else float(argv[6])
        gradient(argv[2], argv[3], argv[4], int(argv[5]), slimming, argv[7])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
