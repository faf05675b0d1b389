"""Builds the checkpoint references of tools/tests/ckpt/ with the NAM trainer
(neural-amp-modeler 0.13) itself: per case, the model from its config through
the trainer's own LightningModule.init_from_config, a few optimizer steps with
PyTorch Lightning on short random data (through the module's training and
validation steps), the best checkpoint Lightning's ModelCheckpoint keeps, and
the .nam file the trainer's CLI would export from it (loaded back with
load_from_checkpoint, eval mode, model.net.export; see nam/train/full.py).

    python make-ckpt-references.py OUT_DIR

Writes OUT_DIR/<case>.ckpt, <case>.json (the config; the whole training
config for some cases, only its `net` part for the others, as `nam-tools
import --config` accepts both) and <case>.nam, and linear_hparams.ckpt (the
linear checkpoint with its config as Lightning's hyper_parameters). Run by
scripts/make-ckpt-references.sh.
"""

import json
import shutil
import sys
import tempfile
from pathlib import Path

import pytorch_lightning as pl
import torch
from nam.train.lightning_module import LightningModule

SAMPLE_RATE = 48_000


def layer_array(input_size, channels, head_out, dilations, **extra):
    config = {
        "input_size": input_size,
        "condition_size": 1,
        "channels": channels,
        "head": {"out_channels": head_out, "kernel_size": 1, "bias": False},
        "kernel_size": 3,
        "dilations": dilations,
        "activation": "Tanh",
    }
    config.update(extra)
    return config


CASES = {
    "linear": {"name": "Linear", "config": {"receptive_field": 16, "bias": True}},
    "convnet": {
        "name": "ConvNet",
        "config": {
            "channels": 3,
            "dilations": [1, 2, 4],
            "batchnorm": True,
            "activation": "Tanh",
        },
    },
    "lstm": {
        "name": "LSTM",
        "config": {
            "hidden_size": 4,
            "num_layers": 2,
            "train_burn_in": 8,
            "train_truncate": 16,
        },
    },
    # The trainer's standard two-array WaveNet layout, nano-sized.
    "wavenet": {
        "name": "WaveNet",
        "config": {
            "layers_configs": [
                {
                    **layer_array(1, 4, 2, [1, 2, 4, 8]),
                    "head": {"out_channels": 2, "kernel_size": 1, "bias": False},
                },
                {
                    **layer_array(4, 2, 1, [1, 2, 4, 8]),
                    "head": {"out_channels": 1, "kernel_size": 1, "bias": True},
                },
            ],
            "head": None,
            "head_scale": 0.02,
        },
    },
    # A2-style options: per-layer kernel sizes and activations (gated,
    # blended, parametrized), bottleneck, grouped convs, head and layer 1x1,
    # FiLM, a head rechannel with a kernel, and a post-stack head.
    "wavenet_a2": {
        "name": "WaveNet",
        "config": {
            "layers_configs": [
                layer_array(
                    1,
                    4,
                    3,
                    [1, 2, 4],
                    kernel_sizes=[2, 3, 2],
                    activation=[
                        {"name": "PairMultiply", "primary": "Tanh", "secondary": "Sigmoid"},
                        {"name": "LeakyReLU", "negative_slope": 0.05},
                        {"name": "PairBlend", "primary": "ReLU", "secondary": "Sigmoid"},
                    ],
                    bottleneck=2,
                    head={"out_channels": 3, "kernel_size": 2, "bias": True},
                    head_1x1_config={"active": True, "out_channels": 2, "groups": 1},
                    layer_1x1_config={"active": True, "groups": 2},
                    groups_input=2,
                    film_params={
                        "conv_post_film": {"active": True, "shift": True},
                        "activation_pre_film": {"active": True, "shift": False},
                    },
                ),
            ],
            "head": {
                "channels": 2,
                "activation": "Tanh",
                "out_channels": 1,
                "kernel_sizes": [2, 1],
            },
            "head_scale": 0.5,
        },
    },
}

# Cases whose config file is the whole training config (the others: the net part).
FULL_CONFIG = {"linear", "wavenet"}


def training_config(net):
    return {
        "net": net,
        "loss": {"val_loss": "esr"},
        "optimizer": {"lr": 0.004},
        "lr_scheduler": {"class": "ExponentialLR", "kwargs": {"gamma": 0.993}},
    }


def make(name, net, out_dir):
    torch.manual_seed(sum(map(ord, name)))
    config = training_config(net)
    module = LightningModule.init_from_config(json.loads(json.dumps(config)))
    module.net.sample_rate = SAMPLE_RATE
    rf = module.net.receptive_field
    length = 64
    x = 0.5 * torch.randn(8, rf - 1 + length)
    y = torch.tanh(2.0 * x[:, rf - 1 :])
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=4
    )
    with tempfile.TemporaryDirectory() as tmp:
        # As the trainer's CLI (nam/train/full.py): keep the best checkpoint
        # by validation loss, then export the model loaded back from it.
        best = pl.callbacks.ModelCheckpoint(
            dirpath=tmp, filename=name, monitor="val_loss", save_top_k=1
        )
        trainer = pl.Trainer(
            max_steps=4,
            accelerator="cpu",
            logger=False,
            callbacks=[best],
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        trainer.fit(module, train_dataloaders=loader, val_dataloaders=loader)
        checkpoint = out_dir / f"{name}.ckpt"
        shutil.copyfile(best.best_model_path, checkpoint)
    model = LightningModule.load_from_checkpoint(
        checkpoint, **LightningModule.parse_config(json.loads(json.dumps(config)))
    )
    model.cpu()
    model.eval()
    model.net.sample_rate = SAMPLE_RATE
    model.net.export(out_dir, basename=name)
    written = config if name in FULL_CONFIG else net
    (out_dir / f"{name}.json").write_text(json.dumps(written, indent=2) + "\n")


def with_hyper_parameters(name, out_dir):
    """The checkpoint `name` as Lightning saves it for a module that called
    save_hyperparameters(config) (the trainer's does not): the training config
    as a plain dict under `hyper_parameters`."""
    checkpoint = torch.load(out_dir / f"{name}.ckpt", weights_only=False)
    checkpoint["hyper_parameters"] = training_config(CASES[name])
    checkpoint["hparams_name"] = "kwargs"
    torch.save(checkpoint, out_dir / f"{name}_hparams.ckpt")


def main():
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, net in CASES.items():
        make(name, net, out_dir)
        print(f"{name}: {(out_dir / (name + '.ckpt')).stat().st_size} bytes")
    with_hyper_parameters("linear", out_dir)


if __name__ == "__main__":
    main()
