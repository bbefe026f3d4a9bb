"""Scoring stored predictions (``satsr bench --predictions``) without re-running a model.

Accepted: a predictions store written by ``satsr predict`` (``sr`` variable, or a folder of
such stores, one per band), or a PROBA-V submission (a ``.zip`` or a folder of
``<scene>.png``, uint16 = value × 65535). The predictions enter the benchmark as a pseudo-model
whose forward looks each scene up by a digest of its LR frames and masks
(:func:`satsr.predictions.scene_digest`), so the usual scoring, records and strips apply
unchanged, and a prediction is never scored against another input than the one it was made
from: a scene without a prediction is an error naming it.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from satsr.batch import iter_batches
from satsr.bench.specs import ResolvedModel
from satsr.errors import ConfigError, DatasetNotFoundError
from satsr.models import SRModel

Loader = Callable[[], np.ndarray]  # → (C, H, W) float32


class StoredPredictions(SRModel):
    """A pseudo-model returning stored predictions, looked up by the input's digest."""

    def __init__(self, scale: int, in_channels: int, by_digest: dict[str, Loader]) -> None:
        super().__init__(scale, in_channels)
        self.by_digest = by_digest

    def forward(self, lr: torch.Tensor, lr_mask: torch.Tensor | None = None,
                frame_valid: torch.Tensor | None = None) -> torch.Tensor:
        from satsr.predictions import scene_digest

        lr_mask, frame_valid = self.defaults(lr, lr_mask, frame_valid)
        out = []
        for i in range(lr.shape[0]):
            key = scene_digest(lr[i], lr_mask[i], frame_valid[i])
            if key not in self.by_digest:
                raise ConfigError("a scene's LR input has no stored prediction (its digest "
                                  f"{key} is not in --predictions); predict this dataset again")
            out.append(torch.from_numpy(self.by_digest[key]()))
        return torch.stack(out).to(device=lr.device, dtype=lr.dtype)


def _digests(ds: xr.Dataset) -> dict[str, str]:
    """scene id → digest of its LR frames, for every scene of ``ds``."""
    from satsr.predictions import batch_digests

    out: dict[str, str] = {}
    for batch in iter_batches(ds, 16):
        out.update(zip(batch.scene, batch_digests(batch), strict=True))
    return out


def _png_loaders(path: Path) -> tuple[dict[str, Loader], str]:
    """scene id → loader for a submission zip or folder of ``<scene>.png``."""
    from satsr.predictions import PEAK, read_png

    def decode(data: bytes, name: str) -> np.ndarray:
        return (read_png(data, name).astype(np.float32) / np.float32(PEAK))[None]

    def from_bytes(data: bytes, name: str) -> Loader:
        return lambda: decode(data, name)

    def from_file(png: Path) -> Loader:
        return lambda: decode(png.read_bytes(), png.name)

    if path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            blobs = {Path(n).stem: zf.read(n) for n in zf.namelist() if n.endswith(".png")}
        return {s: from_bytes(b, f"{s}.png") for s, b in blobs.items()}, path.stem
    return {p.stem: from_file(p) for p in path.glob("*.png")}, path.name


def _store_loaders(path: Path, ds: xr.Dataset) -> tuple[dict[str, Loader], dict[str, Any]]:
    """digest → loader for the predictions store (of ``ds``'s band) at ``path``."""
    from satsr.predictions import open_predictions

    bands = [str(b) for b in ds["band"].values]
    stores = [p for p in open_predictions(path) if [str(b) for b in p["band"].values] == bands]
    if not stores:
        raise ConfigError(f"--predictions {path} has no store for band(s) {bands}")
    pred = stores[0]
    digests = [f"{int(d):016x}" for d in pred["lr_digest"].values]
    sr = pred["sr"]

    def scene(i: int) -> Loader:
        return lambda: np.asarray(sr[i].values, dtype=np.float32)

    return {d: scene(i) for i, d in enumerate(digests)}, dict(pred.attrs)


def stored_model(path: str | Path, ds: xr.Dataset) -> ResolvedModel:
    """The stored predictions at ``path`` for dataset ``ds`` as a bench model."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DatasetNotFoundError(f"--predictions {path} does not exist")
    scenes = _digests(ds)
    is_png = (path.is_file() and path.suffix == ".zip") or any(path.glob("*.png"))
    if is_png:
        by_scene, label = _png_loaders(path)
        missing = sorted(set(scenes) - set(by_scene))
        if missing:
            raise ConfigError(f"--predictions {path} has no PNG for scene(s) {missing[:3]} "
                              f"({len(missing)} of {len(scenes)} missing)")
        by_digest = {d: by_scene[s] for s, d in scenes.items()}
        name, meta = f"submission-{label}", {"model": "submission", "weights": path.name}
    else:
        by_digest, meta = _store_loaders(path, ds)
        missing = sorted(s for s, d in scenes.items() if d not in by_digest)
        if missing:
            raise ConfigError(f"--predictions {path} has no prediction for scene(s) "
                              f"{missing[:3]} of this dataset (or their input changed); "
                              "predict the dataset again")
        name = f"{meta.get('model', 'stored')}-stored"
    model = StoredPredictions(int(ds.attrs["scale"]), ds.sizes["band"], by_digest)
    model.model_name = name
    info = {"kind": "stored", "params": 0, "weights": str(meta.get("weights", "")) or None,
            "paper": "", "year": 0, "url": "", "hparams": {}, "predictions": str(path),
            "source_model": str(meta.get("model", "")),
            "weights_sha256": str(meta.get("weights_sha256", ""))}
    return ResolvedModel(name, model, str(path), meta=info)
