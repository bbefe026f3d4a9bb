"""The one forward contract every satsr model follows.

``model(lr, lr_mask=None, frame_valid=None) -> sr`` with ``lr`` (B, T, C, h, w),
``lr_mask`` (B, T, h, w) bool (True = clear), ``frame_valid`` (B, T) bool, and ``sr``
(B, C, scale*h, scale*w) on the same value scale as ``lr``.

Single-image architectures subclass :class:`SingleImageSR` and implement ``forward_image``
on (B, C', h, w); the class adapts them to multi-frame input with a documented policy:

- ``clearest``: the frame with the most clear pixels (C' = C).
- ``mean``: the mean of per-frame predictions over the ``k`` clearest frames (C' = C).
- ``tied``: the mean of per-frame predictions over every frame tied for the most clear pixels
  (the PROBA-V single-image recipe, as the organisers' mean-bicubic baseline; C' = C).
- ``stack``: the ``k`` clearest frames stacked as channels (C' = k*C), plus their masks as
  ``k`` extra channels when ``with_masks`` (C' = k*C + k).

``combine=True`` multiplies every frame by its quality mask before the network (concealed
pixels become 0: the "LR × QM" input of several PROBA-V entries), for any adapter.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import nn

from satsr.errors import ConfigError, InputValueError
from satsr.frames import gather_frames, tied_max, topk_indices

Adapter = Literal["clearest", "mean", "tied", "stack"]
ADAPTERS: tuple[str, ...] = ("clearest", "mean", "tied", "stack")


class SRModel(nn.Module):
    """Base class: holds ``scale``, ``in_channels`` and registry metadata."""

    multi_frame: bool = False

    def __init__(self, scale: int, in_channels: int) -> None:
        super().__init__()
        self.scale = int(scale)
        self.in_channels = int(in_channels)
        self.model_name: str = type(self).__name__.lower()
        self.hparams: dict[str, Any] = {}

    def check_inputs(
        self, lr: torch.Tensor, lr_mask: torch.Tensor | None, frame_valid: torch.Tensor | None
    ) -> None:
        """Refuse input that breaks the forward contract, naming the expected shapes."""
        if not isinstance(lr, torch.Tensor) or lr.dim() != 5:
            shape = tuple(lr.shape) if isinstance(lr, torch.Tensor) else type(lr).__name__
            raise InputValueError(
                f"{self.model_name}: lr must be a 5-D tensor (B, T, C, h, w), got {shape}; "
                "add the frame axis for a single image: lr[:, None]")
        b, t, c, h, w = lr.shape
        if c != self.in_channels:
            raise InputValueError(f"{self.model_name}: lr has {c} channel(s) (axis 2 of "
                                  f"(B, T, C, h, w)) but the model takes {self.in_channels}")
        for name, value, want in (("lr_mask", lr_mask, (b, t, h, w)),
                                  ("frame_valid", frame_valid, (b, t))):
            if value is not None and tuple(value.shape) != want:
                raise InputValueError(f"{self.model_name}: {name} has shape "
                                      f"{tuple(value.shape)}, expected {want} to match lr")

    def defaults(
        self, lr: torch.Tensor, lr_mask: torch.Tensor | None, frame_valid: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Check the inputs (:meth:`check_inputs`), then fill in an all-clear mask and
        all-valid frames when they are not given."""
        self.check_inputs(lr, lr_mask, frame_valid)
        b, t, _, h, w = lr.shape
        if lr_mask is None:
            lr_mask = torch.ones(b, t, h, w, dtype=torch.bool, device=lr.device)
        if frame_valid is None:
            frame_valid = torch.ones(b, t, dtype=torch.bool, device=lr.device)
        return lr_mask, frame_valid

    def forward(
        self,
        lr: torch.Tensor,
        lr_mask: torch.Tensor | None = None,
        frame_valid: torch.Tensor | None = None,
    ) -> torch.Tensor:
        raise NotImplementedError


class SingleImageSR(SRModel):
    """A single-image network adapted to (B, T, C, h, w) input by a frame policy."""

    def __init__(
        self,
        scale: int,
        in_channels: int,
        *,
        adapter: Adapter = "clearest",
        k: int = 1,
        with_masks: bool = False,
        combine: bool = False,
    ) -> None:
        super().__init__(scale, in_channels)
        if adapter not in ADAPTERS:
            raise ConfigError(f"unknown adapter {adapter!r}; choose one of {list(ADAPTERS)}")
        self.adapter = adapter
        self.k = 1 if adapter in ("clearest", "tied") else int(k)
        if self.k < 1:
            raise ConfigError(f"adapter {adapter!r} needs k >= 1 frames, got {k}")
        self.with_masks = bool(with_masks) and adapter == "stack"
        self.combine = bool(combine)

    @property
    def net_in_channels(self) -> int:
        """Channels the wrapped network sees (depends on the adapter)."""
        if self.adapter == "stack":
            return self.k * self.in_channels + (self.k if self.with_masks else 0)
        return self.in_channels

    def forward_image(self, x: torch.Tensor) -> torch.Tensor:
        """(B, net_in_channels, h, w) → (B, in_channels, scale*h, scale*w)."""
        raise NotImplementedError

    def forward(
        self,
        lr: torch.Tensor,
        lr_mask: torch.Tensor | None = None,
        frame_valid: torch.Tensor | None = None,
    ) -> torch.Tensor:
        lr_mask, frame_valid = self.defaults(lr, lr_mask, frame_valid)
        if self.combine:
            lr = lr * lr_mask.unsqueeze(2).to(lr.dtype)
        if self.adapter == "tied":
            return self._forward_tied(lr, lr_mask, frame_valid)
        idx = topk_indices(lr_mask, frame_valid, self.k)
        frames = gather_frames(lr, idx)  # (B, k, C, h, w)
        b, k, c, h, w = frames.shape
        if self.adapter == "clearest":
            return self.forward_image(frames[:, 0])
        if self.adapter == "mean":
            out = self.forward_image(frames.reshape(b * k, c, h, w))
            return out.reshape(b, k, *out.shape[1:]).mean(1)
        x = frames.reshape(b, k * c, h, w)
        if self.with_masks:
            masks = gather_frames(lr_mask, idx).to(lr.dtype)
            x = torch.cat([x, masks], dim=1)
        return self.forward_image(x)

    def _forward_tied(self, lr: torch.Tensor, lr_mask: torch.Tensor,
                      frame_valid: torch.Tensor) -> torch.Tensor:
        """Mean of the predictions of every frame tied for the most clear pixels."""
        tied = tied_max(lr_mask, frame_valid)  # (B, T)
        n_tied = int(tied.sum(1).max())
        idx = topk_indices(lr_mask, frame_valid, n_tied)  # tied frames come first, in order
        frames = gather_frames(lr, idx)  # (B, n, C, h, w)
        weight = torch.gather(tied, 1, idx).to(lr.dtype)
        # a scene with fewer tied frames repeats frames cyclically: count each frame once
        first = torch.arange(n_tied, device=lr.device).unsqueeze(0) < tied.sum(1, keepdim=True)
        weight = weight * first.to(lr.dtype)
        b, n, c, h, w = frames.shape
        out = self.forward_image(frames.reshape(b * n, c, h, w))
        out = out.reshape(b, n, *out.shape[1:])
        w_ = weight.view(b, n, 1, 1, 1)
        return (out * w_).sum(1) / w_.sum(1)
