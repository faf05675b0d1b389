"""Builds the checkpoint references of tools/tests/ckpt/ with the NAM trainer
(neural-amp-modeler 0.13) itself: per case, the model from its config through
the trainer's own LightningModule.init_from_config, a few optimizer steps with
PyTorch Lightning on short random data (through the module's training and
validation steps), the best checkpoint Lightning's ModelCheckpoint keeps, and
the .nam file the trainer's CLI would export from it (loaded back with
load_from_checkpoint, eval mode, model.net.export; see nam/train/full.py).

    python make-ckpt-references.py OUT_DIR [CASE...]

Case `packed_default` is the trainer's shipped default model config
(nam/train/_resources/config_model_packed.json) as it is, trained on longer
segments (its multi-resolution STFT loss needs them).

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

import nam
import pytorch_lightning as pl
import torch
from nam.train.core import _apply_packed_best_checkpoints as apply_packed_best_checkpoints
from nam.train.lightning_module import (
    LightningModule,
    PackedLightningModule,
    PackedMaskCallback,
)

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


def packed_submodel(channels):
    return {
        "layers_configs": [
            layer_array(
                1,
                channels,
                1,
                [1, 3, 7, 1],
                kernel_sizes=[3, 3, 3, 5],
                activation="LeakyReLU",
                gated=False,
                head={"out_channels": 1, "kernel_size": 4, "bias": True},
            )
        ],
        "head_scale": 0.01,
    }


def packed_two_arrays(channels, head):
    return {
        "layers_configs": [
            layer_array(1, channels, head, [1, 2], activation="Tanh"),
            {
                **layer_array(channels, head, 1, [1, 4], activation="LeakyReLU"),
                "head": {"out_channels": 1, "kernel_size": 1, "bias": True},
            },
        ],
        "head_scale": 0.02,
    }


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
    # Learned PReLU slopes: one per channel in one layer, one shared in the
    # other, and a PReLU inside a pairing activation.
    "wavenet_prelu": {
        "name": "WaveNet",
        "config": {
            "layers_configs": [
                layer_array(
                    1,
                    3,
                    1,
                    [1, 2, 4],
                    activation=[
                        {"name": "PReLU", "num_parameters": 3, "init": 0.2},
                        {"name": "PReLU"},
                        {"name": "PairMultiply", "primary": "PReLU", "secondary": "Sigmoid"},
                    ],
                    head={"out_channels": 1, "kernel_size": 1, "bias": True},
                ),
            ],
            "head": None,
            "head_scale": 0.1,
        },
    },
    # A slimmable WaveNet (the trainer's slice_channels_uniform), once with
    # its allowed channel counts given and once with the default (every count).
    "wavenet_slimmable": {
        "name": "WaveNet",
        "config": {
            "layers_configs": [
                layer_array(
                    1,
                    4,
                    1,
                    [1, 2, 4, 8],
                    activation="LeakyReLU",
                    head={"out_channels": 1, "kernel_size": 1, "bias": True},
                    slimmable={
                        "method": "slice_channels_uniform",
                        "kwargs": {"allowed_channels": [2, 4]},
                    },
                ),
            ],
            "head_scale": 0.05,
        },
    },
    "wavenet_slimmable_default": {
        "name": "WaveNet",
        "config": {
            "layers_configs": [
                layer_array(
                    1,
                    3,
                    1,
                    [1, 2],
                    head={"out_channels": 1, "kernel_size": 1, "bias": False},
                    slimmable={"method": "slice_channels_uniform", "kwargs": {}},
                ),
            ],
            "head_scale": 0.05,
        },
    },
    # The trainer 0.13's default model (config_model_packed.json), shrunk: a
    # PackedWaveNet of two A2-style submodels (2 and 3 channels, per-layer
    # kernel sizes, LeakyReLU, a head rechannel kernel with bias), exported
    # as a SlimmableContainer.
    "packed": {
        "name": "PackedWaveNet",
        "config": {
            "submodels": [
                {"name": f"channels_{c}", "config": packed_submodel(c)} for c in (2, 3)
            ],
            "export": {"container_max_values": "uniform"},
        },
    },
    # Two layer arrays per submodel and explicit container values.
    "packed_two_arrays": {
        "name": "PackedWaveNet",
        "config": {
            "submodels": [
                {"name": "small", "config": packed_two_arrays(2, 1)},
                {"name": "middle", "config": packed_two_arrays(3, 2)},
                {"name": "large", "config": packed_two_arrays(4, 2)},
            ],
            "export": {"container_max_values": [0.25, 0.6, 0.9]},
        },
    },
    # The trainer's default model, its shipped config file as it is.
    "packed_default": None,
    # A WaveNet conditioned on a nested WaveNet's two output channels.
    "wavenet_condition_dsp": {
        "name": "WaveNet",
        "config": {
            "condition_dsp": {
                "name": "WaveNet",
                "config": {
                    "layers_configs": [
                        layer_array(
                            1, 2, 2, [1, 2],
                            head={"out_channels": 2, "kernel_size": 1, "bias": True},
                        )
                    ],
                    "head_scale": 0.5,
                },
            },
            "layers_configs": [
                {
                    **layer_array(1, 3, 1, [1, 2, 4]),
                    "condition_size": 2,
                    "head": {"out_channels": 1, "kernel_size": 1, "bias": True},
                }
            ],
            "head_scale": 0.1,
        },
    },
}

# The trainer 0.13's default model exactly as it ships
# (nam/train/_resources/config_model_packed.json), its whole training config.
DEFAULT_PACKED_CONFIG = (
    Path(nam.__file__).parent / "train" / "_resources" / "config_model_packed.json"
)

# Cases whose config file is the whole training config (the others: the net part).
FULL_CONFIG = {"linear", "wavenet", "packed"}

# Packed cases exported as the trainer does after a run: each submodel from
# the checkpoint of its own best validation loss (<case>.submodel_<i>.ckpt;
# here the checkpoints of the given epochs).
PER_SUBMODEL_BEST = {"packed_two_arrays": [1, 3, 5]}


def training_config(net):
    return {
        "net": net,
        "loss": {"val_loss": "esr"},
        "optimizer": {"lr": 0.004},
        "lr_scheduler": {"class": "ExponentialLR", "kwargs": {"gamma": 0.993}},
    }


def make(name, net, out_dir):
    torch.manual_seed(sum(map(ord, name)))
    shipped = net is None
    config = json.loads(DEFAULT_PACKED_CONFIG.read_text()) if shipped else training_config(net)
    net = config["net"]
    packed = net["name"] == "PackedWaveNet"
    module_class = PackedLightningModule if packed else LightningModule
    module = module_class.init_from_config(json.loads(json.dumps(config)))
    module.net.sample_rate = SAMPLE_RATE
    rf = module.net.receptive_field
    # Long enough for the shipped config's multi-resolution STFT loss.
    length = 4096 if shipped else 64
    x = 0.5 * torch.randn(8, rf - 1 + length)
    y = torch.tanh(2.0 * x[:, rf - 1 :])
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=4
    )
    submodel_checkpoints = []
    with tempfile.TemporaryDirectory() as tmp:
        # As the trainer's CLI (nam/train/core.py): keep the best checkpoint
        # by validation loss (and, for a packed model, each submodel's best),
        # then export the model loaded back from it.
        best = pl.callbacks.ModelCheckpoint(
            dirpath=tmp, filename=name, monitor="val_loss", save_top_k=1
        )
        callbacks = [best]
        if packed:
            callbacks.append(PackedMaskCallback())
        if name in PER_SUBMODEL_BEST:
            # Every epoch's checkpoint, so that the submodels can come from
            # different ones (PackedBestCheckpoint picks them by each
            # submodel's validation loss, which in so short a run falls
            # for all of them at once).
            every_epoch = pl.callbacks.ModelCheckpoint(
                dirpath=Path(tmp) / "epochs", filename="{epoch}", save_top_k=-1
            )
            callbacks.append(every_epoch)
        trainer = pl.Trainer(
            max_steps=4 if name not in PER_SUBMODEL_BEST else 12,
            accelerator="cpu",
            logger=False,
            callbacks=callbacks,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        trainer.fit(module, train_dataloaders=loader, val_dataloaders=loader)
        checkpoint = out_dir / f"{name}.ckpt"
        shutil.copyfile(best.best_model_path, checkpoint)
        if name in PER_SUBMODEL_BEST:
            for i, epoch in enumerate(PER_SUBMODEL_BEST[name]):
                kept = out_dir / f"{name}.submodel_{i}.ckpt"
                shutil.copyfile(Path(tmp) / "epochs" / f"epoch={epoch}.ckpt", kept)
                submodel_checkpoints.append(str(kept))
    model = module_class.load_from_checkpoint(
        checkpoint, **module_class.parse_config(json.loads(json.dumps(config)))
    )
    model.cpu()
    model.eval()
    model.net.sample_rate = SAMPLE_RATE
    if submodel_checkpoints:
        apply_packed_best_checkpoints(model, config, submodel_checkpoints)
    model.net.export(out_dir, basename=name)
    written = config if name in FULL_CONFIG or shipped else net
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
    names = sys.argv[2:] or list(CASES)
    for name in names:
        make(name, CASES[name], out_dir)
        print(f"{name}: {(out_dir / (name + '.ckpt')).stat().st_size} bytes")
    if "linear" in names:
        with_hyper_parameters("linear", out_dir)


if __name__ == "__main__":
    main()
