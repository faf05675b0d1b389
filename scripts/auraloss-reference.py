#!/usr/bin/env python3
"""The NAM trainer's multi-resolution STFT loss (`nam.models.losses.
multi_resolution_stft_loss`: its vendored auraloss at the default resolutions, as
its training step calls it) of two (batch, samples) signals, and its gradient with
respect to the prediction. With PRE_EMPH_COEF, both signals are pre-emphasized
first (`nam.models.losses.apply_pre_emphasis_filter`), as the trainer's
`pre_emph_mrstft` term does.

usage: auraloss-reference.py PRED.f32 TARGET.f32 BATCH OUT.f32 [PRE_EMPH_COEF]
PRED and TARGET are raw little-endian float32, BATCH rows each. OUT receives the
loss followed by d loss / d pred (same layout as PRED), as float32. Run it with the
venv of scripts/nam-venv.sh; tools/tests/train.rs compares nam-tools' loss with it.
"""
import sys

import numpy as np
import torch
from nam.models.losses import apply_pre_emphasis_filter, multi_resolution_stft_loss


def main() -> None:
    pred_path, target_path, batch, out_path = sys.argv[1:5]
    coef = float(sys.argv[5]) if len(sys.argv) > 5 else None
    batch = int(batch)
    pred = torch.from_numpy(np.fromfile(pred_path, dtype="<f4").reshape(batch, -1).copy())
    target = torch.from_numpy(np.fromfile(target_path, dtype="<f4").reshape(batch, -1).copy())
    pred.requires_grad_(True)
    if coef is None:
        loss = multi_resolution_stft_loss(pred, target)
    else:
        loss = multi_resolution_stft_loss(
            apply_pre_emphasis_filter(pred, coef), apply_pre_emphasis_filter(target, coef)
        )
    loss.backward()
    out = np.concatenate([[loss.item()], pred.grad.numpy().ravel()]).astype("<f4")
    out.tofile(out_path)


if __name__ == "__main__":
    main()
