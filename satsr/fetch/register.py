"""Register every LR frame of a scene to its clearest frame (EnhanceMe's preprocessing).

PROBA-V LR frames of one scene are not aligned to each other (sub-pixel to ~1 px offsets
between acquisitions). EnhanceMe (https://github.com/mmbajo/PROBA-V) registered each frame to
a reference frame before fusion; satsr does the same with its own co-registration estimator
(:func:`satsr.fetch.coregister.estimate_shifts`: masked phase correlation, integer NCC search
and a Gauss-Newton sub-pixel refinement) and resamples with its Keys cubic shifter
(:func:`satsr.fetch.coregister.apply_shift`).

Per scene, the reference is the clearest valid frame (most clear pixels, first on ties). Every
other frame is reflection-padded by ``margin`` pixels (values and masks, as scipy's
``mode='reflect'`` shift EnhanceMe used), its shift to the reference is estimated on the first
band (or the band mean) and applied to all bands. Frames whose estimate is unreliable (too few
clear pixels, a flat correlation peak, no NCC improvement, a shift larger than ``max_shift``)
stay where they are; their status is recorded. Accuracy on synthetic sub-pixel shifts of the
real PROBA-V LR frames: see ``tests/datasets/test_register.py`` (p95 error <= 0.1 LR px).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from satsr.errors import InputValueError

#: Reflection padding around each moving frame (LR px): room for the integer search (±2 px
#: beyond ``max_shift``) and the cubic taps.
MARGIN = 5


@dataclass(frozen=True)
class FrameShifts:
    """Per-frame shifts (B, T) in LR pixels applied to the frames, and each frame's status."""

    dy: np.ndarray
    dx: np.ndarray
    status: np.ndarray  # "reference", "ok", "padding" or the estimator's reason to keep it
    reference: np.ndarray  # (B,) index of each scene's reference frame


def register_stack(lr: np.ndarray, lr_mask: np.ndarray, frame_valid: np.ndarray | None = None,
                   *, max_shift: float = 2.0, min_clear: float = 0.25,
                   ) -> tuple[np.ndarray, np.ndarray, FrameShifts]:
    """Register frames of ``lr`` (B, T, C, h, w) to each scene's clearest frame.

    Returns the registered frames (float32, same shape; pixels outside the data after the shift
    keep the mask False), the resampled masks (B, T, h, w) and the :class:`FrameShifts`.
    """
    from satsr.fetch.coregister import STATUS_OK, apply_shift, estimate_shifts

    lr = np.asarray(lr)
    if lr.ndim != 5:
        raise InputValueError(f"register_stack needs lr (B, T, C, h, w), got shape {lr.shape}")
    b, t = lr.shape[:2]
    mask = np.asarray(lr_mask, dtype=bool) & np.isfinite(lr).all(axis=2)
    valid = np.ones((b, t), bool) if frame_valid is None else np.asarray(frame_valid, bool)
    counts = np.where(valid, mask.reshape(b, t, -1).sum(-1), -1)
    ref_idx = np.argmax(counts, axis=1)  # first frame among the clearest
    pairs = [(i, j) for i in range(b) for j in range(t) if valid[i, j] and j != ref_idx[i]]
    dy, dx = np.zeros((b, t)), np.zeros((b, t))
    status = np.full((b, t), "padding", dtype=object)
    status[np.arange(b), ref_idx] = "reference"
    out, out_mask = lr.astype(np.float32, copy=True), mask.copy()
    if not pairs:
        return out, out_mask, FrameShifts(dy, dx, status, ref_idx)
    bi, fj = (np.array(v) for v in zip(*pairs, strict=True))
    pad = ((0, 0), (MARGIN, MARGIN), (MARGIN, MARGIN))
    ref = lr[bi, ref_idx[bi]].mean(axis=1)  # (N, h, w): band mean
    mov = lr[bi, fj]  # (N, C, h, w)
    mov_pad = np.pad(mov, ((0, 0), (0, 0), *pad[1:]), mode="reflect")
    mov_mask_pad = np.pad(mask[bi, fj], pad, mode="reflect")
    est = estimate_shifts(ref, mov_pad.mean(axis=1), mask[bi, ref_idx[bi]], mov_mask_pad,
                          margin=MARGIN, max_shift=max_shift, min_clear=min_clear)
    ok = est.status == STATUS_OK
    sy, sx = np.where(ok, est.dy, 0.0), np.where(ok, est.dx, 0.0)
    shifted, shifted_mask = apply_shift(mov_pad, mov_mask_pad, sy, sx, MARGIN)
    out[bi, fj] = np.nan_to_num(shifted, nan=0.0)
    out_mask[bi, fj] = shifted_mask
    dy[bi, fj], dx[bi, fj] = sy, sx
    status[bi, fj] = est.status
    return out, out_mask, FrameShifts(dy, dx, status, ref_idx)


def register_frames(ds: xr.Dataset, **options: float) -> xr.Dataset:
    """A sample-schema dataset whose LR frames are registered to each scene's clearest frame.

    Adds ``frame_shift`` (scene, frame, 2: dy, dx in LR px) and ``frame_register_status``;
    concealed pixels keep their (resampled) mask. ``options`` go to :func:`register_stack`.
    """
    valid = ds["frame_valid"].values if "frame_valid" in ds else None
    lr, mask, shifts = register_stack(ds["lr"].values, ds["lr_mask"].values, valid, **options)
    out = ds.copy()
    out["lr"] = (ds["lr"].dims, lr)
    out["lr_mask"] = (ds["lr_mask"].dims, mask)
    out["frame_shift"] = (("scene", "frame", "shift_axis"),
                          np.stack([shifts.dy, shifts.dx], axis=-1).astype(np.float32))
    out["frame_register_status"] = (("scene", "frame"), shifts.status.astype(str))
    out.attrs["frames_registered"] = "clearest frame per scene (satsr.fetch.register)"
    return out
