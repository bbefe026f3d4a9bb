"""Optimisers and learning-rate schedules of the trainer (``--optimizer``, ``--schedule``).

- ``adam`` (default) and ``nadam`` (Adam with Nesterov momentum, :class:`torch.optim.NAdam`;
  the PROBA-V entries such as EnhanceMe used Nadam).
- ``cosine``: per-step cosine decay from ``lr`` to 2 % of it over the run; ``constant``;
  ``plateau``: :class:`torch.optim.lr_scheduler.ReduceLROnPlateau` on the validation cPSNR
  (mode max): the rate is multiplied by ``factor`` after ``patience`` validation rounds
  without improvement. Its state travels in the run's checkpoint, the current rate in the
  optimizer's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch.optim.lr_scheduler import ReduceLROnPlateau

from satsr.errors import ConfigError

OPTIMIZERS = ("adam", "nadam")
SCHEDULES = ("cosine", "constant", "plateau")


def check_optim(optimizer: str, schedule: str, factor: float, patience: int) -> None:
    """Fail fast (one line) on an unknown optimiser / schedule or a bad plateau setting."""
    if optimizer not in OPTIMIZERS:
        raise ConfigError(f"unknown --optimizer {optimizer!r}; use {' or '.join(OPTIMIZERS)}")
    if schedule not in SCHEDULES:
        raise ConfigError(f"unknown --schedule {schedule!r}; use {', '.join(SCHEDULES)}")
    if not 0 < factor < 1:
        raise ConfigError(f"--plateau-factor must be between 0 and 1 (exclusive), got {factor}")
    if patience < 0:
        raise ConfigError(f"--plateau-patience must be 0 or more validation rounds, got "
                          f"{patience}")


def make_optimizer(name: str, params: Iterable[torch.nn.Parameter], lr: float,
                   weight_decay: float) -> torch.optim.Optimizer:
    """The generator's optimiser ``name`` (see :data:`OPTIMIZERS`)."""
    if name == "nadam":
        return torch.optim.NAdam(params, lr=lr, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    raise ConfigError(f"unknown --optimizer {name!r}; use {' or '.join(OPTIMIZERS)}")


def make_plateau(opt: torch.optim.Optimizer, factor: float, patience: int
                 ) -> ReduceLROnPlateau:
    """ReduceLROnPlateau on a metric to maximise (validation cPSNR)."""
    return ReduceLROnPlateau(opt, mode="max", factor=factor, patience=patience)


def lr_factor(schedule: str, step: int, total: int) -> float:
    """Multiplier of the base rate at 0-based ``step`` of ``total`` (cosine / constant)."""
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * min(step, total) / max(total, 1))) * 0.98 + 0.02
    raise ConfigError(f"schedule {schedule!r} has no per-step factor; use cosine or constant")
