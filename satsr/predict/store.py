"""Predictions for sample-schema datasets: an ``sr`` variable beside the inputs' coordinates.

A predictions store (format: :mod:`satsr.predictions`) holds ``sr`` (scene, band, Y, X)
float32 on the dataset's value scale, the ``scene``/``band``/``split`` coordinates, a digest of
each scene's LR input (so scores are only ever matched to the exact input they came from) and
attributes naming the dataset, model, weights checksum and satsr version. ``satsr bench
--dataset D --predictions STORE`` scores it without re-running the model. The model runs on
each scene exactly as in ``satsr bench`` (``model(lr, lr_mask, frame_valid)``), so a stored
prediction scores the same as the in-memory one.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from satsr import __version__
from satsr._atomic import replace_dir
from satsr.batch import Batch, iter_batches
from satsr.predict.model import PredictModel, load_model
from satsr.predictions import KIND, batch_digests

KEEP_ATTRS = ("dataset", "scale", "value_scale", "data_range", "lr_sensor", "hr_sensor",
              "synthetic", "score_mask")


@dataclass
class StoreResult:
    """Where predictions were written and for how many scenes."""

    out: Path
    n_scenes: int
    stores: list[Path]


def predict_batches(pm: PredictModel, ds: xr.Dataset, *, batch_size: int, device: str
                    ) -> Iterator[tuple[Batch, np.ndarray]]:
    """(batch, sr (B, C, H, W) float32) for every scene of ``ds``, in order."""
    model = pm.model.to(device).eval()
    for batch in iter_batches(ds, batch_size):
        dev = batch.to(device)
        with torch.inference_mode():
            sr = model(dev.lr, dev.lr_mask, dev.frame_valid)
        yield batch, sr.float().cpu().numpy()


def predictions_dataset(ds: xr.Dataset, sr: np.ndarray, digests: list[str], pm: PredictModel
                        ) -> xr.Dataset:
    """The predictions store's dataset for ``ds`` (see module docstring)."""
    attrs: dict[str, Any] = {k: ds.attrs[k] for k in KEEP_ATTRS if k in ds.attrs}
    attrs.update({"kind": KIND, "satsr_version": __version__, "model": pm.name,
                  "weights": pm.weights.name if pm.weights else "",
                  "weights_sha256": pm.sha256,
                  "hparams": json.dumps(pm.identity()["hparams"], sort_keys=True)})
    return xr.Dataset(
        {"sr": (("scene", "band", "Y", "X"), sr.astype(np.float32)),
         "lr_digest": (("scene",), np.array([int(d, 16) for d in digests], dtype=np.uint64))},
        coords={"scene": ds["scene"].values.astype(object),
                "band": ds["band"].values.astype(object),
                "split": ("scene", np.asarray(ds["split"].values).astype(object))},
        attrs=attrs)


def save_predictions(pred: xr.Dataset, path: Path) -> Path:
    """Write a predictions dataset to a Zarr store atomically (temp folder, then rename)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        chunked = pred.assign(sr=pred["sr"].chunk({"scene": 8}))
        chunked.to_zarr(tmp, mode="w", consolidated=False)
        replace_dir(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def _band_groups(name_or_path: str, split: str | None, band: str | None,
                 root: str | os.PathLike[str] | None) -> list[xr.Dataset]:
    from satsr.datasets import load_datasets

    return load_datasets(name_or_path, split=split, band=band, root=root)


def predict_store(model: str | PredictModel, dataset: str, out: str | os.PathLike[str], *,
                  split: str | None = None, band: str | None = None,
                  root: str | os.PathLike[str] | None = None, batch_size: int = 4,
                  device: str = "cpu", overwrite: bool = False, progress: bool = True,
                  allow_mismatch: bool = False) -> StoreResult:
    """Predict every scene of a dataset (name or store path) into predictions store(s).

    One band group (e.g. ``--band RED``) gives one store at ``out``; several (PROBA-V RED and
    NIR) give a folder ``out`` holding ``<dataset>_<band>.zarr`` per group.
    """
    from satsr.models.weights import dataset_facts
    from satsr.predict.checks import check_model_input, check_output_path
    from satsr.progress import make_progress

    out = Path(out).expanduser()
    groups = _band_groups(dataset, split, band, root)
    src = Path(dataset)
    check_output_path(out, [src] if src.exists() else [], overwrite=overwrite, suffixes=())
    targets = ([out] if len(groups) == 1 else
               [out / f"{g.attrs['dataset']}_{'+'.join(map(str, g['band'].values))}.zarr"
                for g in groups])
    models = []
    for ds in groups:
        pm = model if isinstance(model, PredictModel) else load_model(
            model, scale=int(ds.attrs["scale"]), in_channels=ds.sizes["band"])
        facts = dataset_facts(ds)
        check_model_input(pm, n_bands=ds.sizes["band"], scale=int(ds.attrs["scale"]),
                          facts=facts, allow_mismatch=allow_mismatch)
        models.append(pm)
    n = 0
    with make_progress(disable=not progress) as bar:
        for ds, pm, target in zip(groups, models, targets, strict=True):
            task = bar.add_task(f"predict {pm.name}", total=ds.sizes["scene"], status="")
            parts, digests = [], []
            for batch, sr in predict_batches(pm, ds, batch_size=batch_size, device=device):
                parts.append(sr)
                digests += batch_digests(batch)
                bar.advance(task, len(batch))
            save_predictions(predictions_dataset(ds, np.concatenate(parts), digests, pm), target)
            n += ds.sizes["scene"]
    return StoreResult(out, n, targets)
