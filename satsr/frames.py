"""Frame-selection policies for multi-frame data (PROBA-V literature), batched in torch.

- ``all``: every valid frame.
- ``topk``: the K clearest frames (most clear pixels; ties broken by frame order), repeated
  cyclically when a scene has fewer than K valid frames.
- ``tied-max``: every frame tied for the most clear pixels (the organisers' baseline).
"""

from __future__ import annotations

from typing import Literal

import torch

FramePolicy = Literal["all", "topk", "tied-max"]
POLICIES: tuple[str, ...] = ("all", "topk", "tied-max")


def clear_counts(lr_mask: torch.Tensor, frame_valid: torch.Tensor | None = None) -> torch.Tensor:
    """(B, T) number of clear pixels per frame; padding frames get -1."""
    counts = lr_mask.flatten(2).sum(-1).to(torch.int64)
    if frame_valid is not None:
        counts = torch.where(frame_valid, counts, torch.full_like(counts, -1))
    return counts


def topk_indices(
    lr_mask: torch.Tensor, frame_valid: torch.Tensor | None, k: int
) -> torch.Tensor:
    """(B, k) indices of the k clearest valid frames, repeating cyclically when fewer exist."""
    counts = clear_counts(lr_mask, frame_valid)
    t = counts.shape[1]
    # stable descending sort: key = count * T - index keeps lower indices first on ties
    order_key = counts * (t + 1) - torch.arange(t, device=counts.device)
    order = torch.argsort(order_key, dim=1, descending=True)
    n_valid = (counts >= 0).sum(1).clamp(min=1)
    pos = torch.arange(k, device=counts.device).unsqueeze(0) % n_valid.unsqueeze(1)
    return torch.gather(order, 1, pos)


def tied_max(lr_mask: torch.Tensor, frame_valid: torch.Tensor | None = None) -> torch.Tensor:
    """(B, T) bool: frames tied for the most clear pixels (never a padding frame)."""
    counts = clear_counts(lr_mask, frame_valid)
    best = counts.max(dim=1, keepdim=True).values
    return (counts == best) & (counts >= 0)


def gather_frames(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Pick frames ``idx`` (B, K) from ``x`` (B, T, ...) → (B, K, ...)."""
    view = idx.view(*idx.shape, *([1] * (x.dim() - 2))).expand(-1, -1, *x.shape[2:])
    return torch.gather(x, 1, view)


def select_mask(
    policy: FramePolicy,
    lr_mask: torch.Tensor,
    frame_valid: torch.Tensor | None,
    k: int | None = None,
) -> torch.Tensor:
    """(B, T) bool of the frames a policy keeps (``topk`` ignores repetition here)."""
    if policy == "all":
        keep = torch.ones(lr_mask.shape[:2], dtype=torch.bool, device=lr_mask.device)
        return keep if frame_valid is None else keep & frame_valid
    if policy == "tied-max":
        return tied_max(lr_mask, frame_valid)
    if policy == "topk":
        if not k or k < 1:
            raise ValueError("policy 'topk' needs k >= 1")
        idx = topk_indices(lr_mask, frame_valid, k)
        keep = torch.zeros(lr_mask.shape[:2], dtype=torch.bool, device=lr_mask.device)
        return keep.scatter(1, idx, True)
    raise ValueError(f"unknown frame policy {policy!r}; choose one of {list(POLICIES)}")
