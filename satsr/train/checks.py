"""Validation of a :class:`satsr.train.TrainConfig` before any data is read.

Messages name options the way ``satsr train`` spells them (``--lr``); the same refusals reach
library users, since ``TrainConfig.__post_init__`` calls :func:`check_train_config`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from satsr._checks import check_choice, check_device, check_float, check_int, check_output_dir
from satsr.errors import ConfigError

if TYPE_CHECKING:
    from satsr.train.loop import TrainConfig

CONTENT_LOSSES = ("auto", "perceptual", "l1", "mse")
SPLITS = ("train", "val", "test")


def _check_types(cfg: TrainConfig) -> None:
    for name in ("model", "dataset", "loss", "schedule", "device", "out", "val_split",
                 "gan_loss", "content_loss"):
        value = getattr(cfg, name)
        if not isinstance(value, str):
            raise ConfigError(f"--{name.replace('_', '-')} {value!r} must be text")
    for name in ("hparams", "loss_options"):
        if not isinstance(getattr(cfg, name), dict):
            raise ConfigError(f"{name} must be a mapping of names to values")


def check_train_config(cfg: TrainConfig) -> None:
    """Raise :class:`ConfigError` for any option no training run could use."""
    from satsr.train.gan import GAN_KINDS
    from satsr.train.optim import OPTIMIZERS, SCHEDULES

    _check_types(cfg)
    check_int("--steps", cfg.steps, optional=True)
    check_int("--epochs", cfg.epochs, optional=True)
    if cfg.steps is not None and cfg.epochs is not None:
        raise ConfigError("pass either --steps or --epochs, not both")
    check_int("--patch", cfg.patch)
    check_int("--frames", cfg.frames, optional=True)
    check_int("--batch", cfg.batch)
    check_int("--early-stop", cfg.early_stop, optional=True)
    check_int("--val-every", cfg.val_every, optional=True)
    check_int("--val-scenes", cfg.val_scenes, optional=True)
    check_int("--threads", cfg.threads, optional=True)
    check_int("--seed", cfg.seed, minimum=0)
    check_float("--lr", cfg.lr, minimum=0.0)  # 0 freezes the weights (a valid control run)
    check_float("--disc-lr", cfg.disc_lr, minimum=0.0, strict=True, optional=True)
    check_float("weight_decay", cfg.weight_decay, minimum=0.0)
    check_float("grad_clip", cfg.grad_clip, minimum=0.0, strict=True, optional=True)
    for name in ("adv_weight", "content_weight", "pixel_weight"):
        check_float(name, getattr(cfg, name), minimum=0.0)
    check_float("pretrain_fraction", cfg.pretrain_fraction, minimum=0.0, maximum=1.0)
    check_choice("--schedule", cfg.schedule, SCHEDULES)
    check_choice("--optimizer", cfg.optimizer, OPTIMIZERS)
    check_choice("--val-split", cfg.val_split, SPLITS)
    check_choice("--gan-loss", cfg.gan_loss, GAN_KINDS)
    check_choice("--content-loss", cfg.content_loss, CONTENT_LOSSES)
    check_device("--device", cfg.device)
    check_output_dir("--out", cfg.out)
