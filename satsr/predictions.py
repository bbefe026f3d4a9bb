"""The stored-predictions formats that ``satsr predict`` writes and ``satsr bench`` reads.

- Predictions store (Zarr): ``sr`` (scene, band, Y, X) float32 on the dataset's value scale,
  the ``scene``/``band``/``split`` coordinates, ``lr_digest`` (scene,) uint64 — the
  :func:`scene_digest` of each scene's input — and attributes (``kind`` = :data:`KIND`, dataset,
  model, weights checksum, satsr version).
- PROBA-V submission: 16-bit grayscale PNGs named ``<scene>.png``, value = round(SR × 65535).

A leaf module (torch, numpy, PIL, xarray only), so the predict and bench layers share it.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from PIL import Image

from satsr.batch import Batch
from satsr.errors import ConfigError, CorruptFileError

KIND = "satsr-predictions"
#: PROBA-V submission PNGs: uint16 = value × PEAK (the ``uint16/65535`` value scale)
PEAK = 65535.0
SUBMISSION_VALUE_SCALE = "uint16/65535"


def scene_digest(lr: torch.Tensor, lr_mask: torch.Tensor, frame_valid: torch.Tensor) -> str:
    """sha256 (hex, 16 chars) of one scene's valid frames (T', C, h, w) float32 and masks.

    Padding frames are left out, so the digest does not depend on how many padding frames a
    split selection kept.
    """
    keep = frame_valid.bool()
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(lr[keep].float().cpu().numpy()).tobytes())
    h.update(np.ascontiguousarray(lr_mask[keep].bool().cpu().numpy()).tobytes())
    return h.hexdigest()[:16]


def batch_digests(batch: Batch) -> list[str]:
    """:func:`scene_digest` of every scene of a batch."""
    return [scene_digest(batch.lr[i], batch.lr_mask[i], batch.frame_valid[i])
            for i in range(len(batch))]


def open_predictions(path: str | os.PathLike[str]) -> list[xr.Dataset]:
    """Predictions store(s) at ``path`` (a store, or a folder of stores), checked."""
    path = Path(path).expanduser()
    is_store = (path / "zarr.json").exists() or (path / ".zgroup").exists()
    stores = [path] if is_store else sorted(path.glob("*.zarr"))
    if not stores:
        raise ConfigError(f"--predictions {path} is not a predictions store (or a folder of "
                          "them); write one with `satsr predict --input DATASET --out X.zarr`")
    out = []
    for store in stores:
        ds = xr.open_zarr(store, consolidated=False)
        if ds.attrs.get("kind") != KIND or "sr" not in ds:
            raise ConfigError(f"{store} is not a satsr predictions store (no 'sr' variable of "
                              f"kind {KIND!r}); write one with `satsr predict`")
        out.append(ds)
    return out


def to_uint16(sr: np.ndarray) -> np.ndarray:
    """SR on the ``uint16/65535`` scale → the challenge's uint16 (rounded, clipped)."""
    return np.clip(np.rint(sr.astype(np.float64) * PEAK), 0, PEAK).astype(np.uint16)


def png_bytes(image: np.ndarray) -> bytes:
    """A 16-bit grayscale PNG of a (H, W) uint16 image."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def read_png(data: bytes, name: str) -> np.ndarray:
    """Decode a submission PNG (uint16) or raise naming the member."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.mode not in ("I;16", "I;16B", "I;16L"):
                raise CorruptFileError(f"{name} has PNG mode {im.mode!r}; submissions are "
                                       "16-bit grayscale PNGs")
            return np.array(im).astype(np.uint16)
    except CorruptFileError:
        raise
    except Exception as exc:
        raise CorruptFileError(f"{name} is not a readable PNG ({exc})") from None
