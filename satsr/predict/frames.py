"""Frames and invalid pixels, decided once for the whole raster so every tile agrees.

Models pick their frames by counting clear pixels; counted per tile, neighbouring tiles could
pick different frames and show seams. So predict ranks the frames once over the whole input
(most clear pixels first, ties by frame order, frames without a clear pixel dropped as bench
drops padding frames), keeps the frames the model consumes, and fills invalid pixels before the
network sees them: by the per-pixel median of that pixel's clear values over the kept frames
(the rule of the multi-frame models), else by the band's mean over all clear pixels. The model
then gets all-clear masks, so its own selection keeps the global order; for the multi-frame
models this gives exactly what they compute from the real masks (the median of the filled
frames is the masked median). The output is masked where no kept frame is clear.

Models that take the masks as input (``srvgg16`` with its reference ``concat`` input, any model
built with ``combine``) see all-clear masks and filled frames here: seamless, but on cloudy
pixels not what bench computes from the real masks. Feeding them the real masks per tile
would let their own per-tile ranking reorder the frames (and the stacked channels) from tile
to tile; doing it right needs the models to accept a given frame order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from satsr.errors import InputValueError
from satsr.models._multiframe import masked_median

#: Rows read at a time by the statistics pass (memory: rows × width × bands × 4 bytes).
STRIP_ROWS = 512

Reader = Callable[[int, int, int, int, int], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class FramePlan:
    """``order``: input frames fed to the model, clearest first; ``fill``: (C,) float32 band
    means of clear pixels; ``clear``: clear pixels per input frame."""

    order: tuple[int, ...]
    fill: tuple[float, ...]
    clear: tuple[int, ...]


def plan_frames(read: Reader, n_frames: int, n_bands: int, height: int, width: int,
                n_use: int | None, *, on_strip: Callable[[], None] | None = None) -> FramePlan:
    """Scan every frame once (strips of :data:`STRIP_ROWS`) and decide the frames and fills.

    ``read(frame, y0, x0, h, w)`` returns values (C, h, w) and a clear mask (h, w); ``n_use``
    is how many frames the model consumes (None: the frames tied for the most clear pixels,
    the PROBA-V organisers' rule).
    """
    counts = np.zeros(n_frames, dtype=np.int64)
    sums = np.zeros((n_frames, n_bands), dtype=np.float64)
    for f in range(n_frames):
        for y0 in range(0, height, STRIP_ROWS):
            h = min(STRIP_ROWS, height - y0)
            data, clear = read(f, y0, 0, h, width)
            counts[f] += int(clear.sum())
            sums[f] += np.where(clear, data, 0).sum(axis=(1, 2), dtype=np.float64)
            if on_strip is not None:
                on_strip()
    if not counts.any():
        raise InputValueError("the input has no clear pixel (every pixel is nodata, NaN or "
                              "masked); check the nodata value and the mask")
    ranked = sorted((f for f in range(n_frames) if counts[f] > 0), key=lambda f: (-counts[f], f))
    if n_use is None:
        order = [f for f in ranked if counts[f] == counts[ranked[0]]]
    else:
        order = ranked[:n_use]
    idx = list(order)
    fill = sums[idx].sum(0) / counts[idx].sum()
    return FramePlan(tuple(order), tuple(float(v) for v in fill.astype(np.float32)),
                     tuple(int(c) for c in counts))


def strips(height: int) -> int:
    """Number of strips :func:`plan_frames` reads per frame."""
    return -(-height // STRIP_ROWS)


def fill_invalid(frames: np.ndarray, clear: np.ndarray, fill: tuple[float, ...]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Fill invalid pixels of ``frames`` (T, C, h, w) given ``clear`` (T, h, w).

    Returns the filled frames (float32) and ``any_clear`` (h, w): where at least one frame is
    clear. See the module docstring for the rule.
    """
    x = torch.from_numpy(np.ascontiguousarray(frames, dtype=np.float32)).unsqueeze(0)
    m = torch.from_numpy(np.ascontiguousarray(clear, dtype=bool)).unsqueeze(0)
    if bool(m.all()):
        return x[0].numpy(), np.ones(clear.shape[1:], dtype=bool)
    valid = torch.ones(m.shape[:2], dtype=torch.bool)
    med = masked_median(x, m, valid)[0]  # (C, h, w)
    any_clear = m[0].any(0)
    band_fill = torch.tensor(fill, dtype=torch.float32).view(-1, 1, 1)
    ref = torch.where(any_clear.unsqueeze(0), med, band_fill)
    out = torch.where(m[0].unsqueeze(1), x[0], ref.unsqueeze(0))
    return out.numpy(), any_clear.numpy()
