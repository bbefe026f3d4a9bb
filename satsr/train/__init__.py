"""Training: losses, patch sampling, the loop (``train(TrainConfig) -> TrainResult``), GANs."""

from __future__ import annotations

from satsr.train.loop import TrainConfig, TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "train"]
