"""Frame handling shared by the native multi-frame networks (HighRes-net, RAMS, 3D-WDSR).

These networks need a fixed frame count ``n`` and clean pixels. We take the ``n`` clearest valid
frames (most clear pixels first, ties by frame order), so padding frames (``frame_valid`` False)
are never fed to the network: appending padding frames never changes the output. Concealed
pixels (mask False) are replaced by the per-pixel median of the clear pixels of the selected
frames (the median of all selected frames where no frame is clear there), so clouds carry no
signal into the network.
"""

from __future__ import annotations

import torch

from satsr.frames import clear_counts, gather_frames, topk_indices


def select_frames(
    lr: torch.Tensor, lr_mask: torch.Tensor, frame_valid: torch.Tensor, n: int,
    *, repeat: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ``n`` clearest valid frames: ``(frames (B,n,C,h,w), masks (B,n,h,w), valid (B,n))``.

    With ``repeat`` the valid frames are repeated cyclically when fewer than ``n`` exist
    (RAMS/3D-WDSR practice) and ``valid`` marks every selected slot; otherwise the missing slots
    are zero frames with ``valid`` False (HighRes-net pads and gates them out).
    """
    idx = topk_indices(lr_mask, frame_valid, n)
    frames = gather_frames(lr, idx)
    masks = gather_frames(lr_mask, idx)
    n_valid = (clear_counts(lr_mask, frame_valid) >= 0).sum(1, keepdim=True)
    if repeat:
        valid = (n_valid > 0).expand(-1, n)
    else:
        valid = torch.arange(n, device=lr.device).unsqueeze(0) < n_valid
        frames = frames * valid.view(*valid.shape, 1, 1, 1).to(frames.dtype)
        masks = masks & valid.view(*valid.shape, 1, 1)
    return frames, masks, valid


def masked_median(frames: torch.Tensor, masks: torch.Tensor, valid: torch.Tensor
                  ) -> torch.Tensor:
    """Per-pixel median over frames of the clear pixels (B, C, h, w).

    Falls back to the median of all valid frames where no frame is clear, and to 0 where a
    scene has no valid frame at all. Even counts give the lower median (torch convention).
    """
    nan = torch.tensor(float("nan"), dtype=frames.dtype, device=frames.device)
    v = valid.view(*valid.shape, 1, 1, 1)
    clear = masks.unsqueeze(2) & v
    med_clear = torch.where(clear, frames, nan).nanmedian(dim=1).values
    med_valid = torch.where(v.expand_as(frames), frames, nan).nanmedian(dim=1).values
    out = torch.where(torch.isnan(med_clear), med_valid, med_clear)
    return torch.nan_to_num(out, nan=0.0)


def fill_concealed(frames: torch.Tensor, masks: torch.Tensor, reference: torch.Tensor
                   ) -> torch.Tensor:
    """Replace concealed pixels of every frame by ``reference`` (B, C, h, w)."""
    return torch.where(masks.unsqueeze(2), frames, reference.unsqueeze(1))


def prepare_frames(
    lr: torch.Tensor, lr_mask: torch.Tensor, frame_valid: torch.Tensor, n: int,
    *, repeat: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Select ``n`` frames and fill their concealed pixels: ``(frames, reference, valid)``."""
    frames, masks, valid = select_frames(lr, lr_mask, frame_valid, n, repeat=repeat)
    ref = masked_median(frames, masks, valid)
    frames = fill_concealed(frames, masks | ~valid.view(*valid.shape, 1, 1), ref)
    return frames, ref, valid
