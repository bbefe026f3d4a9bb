"""Visual comparison strips: LR / bicubic / SR of the best models / HR for one scene."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import xarray as xr

from satsr._atomic import write_via
from satsr._paths import inside, safe_name
from satsr.batch import batch_from_dataset
from satsr.bench.scoring import band_label
from satsr.frames import topk_indices

if TYPE_CHECKING:
    from satsr.bench.specs import ResolvedModel

#: At most this many SR panels besides bicubic (the best models by mean cPSNR).
MAX_SR_PANELS = 3


def _display(img: np.ndarray, bands: list[str]) -> np.ndarray:
    """(C, H, W) → an image for imshow: RGB when red/green/blue exist, else the first band."""
    names = [b.lower() for b in bands]
    if all(c in names for c in ("red", "green", "blue")):
        return np.stack([img[names.index(c)] for c in ("red", "green", "blue")], axis=-1)
    return img[0]


def _stretch(img: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip((img - lo) / max(hi - lo, 1e-12), 0.0, 1.0)


def select_scene_for_strip(records: pd.DataFrame, ds: xr.Dataset) -> int:
    """Index of the scene shown in visual strips: the one with median bicubic cPSNR."""
    band = band_label(ds)
    base = records[(records["band"] == band) & (records["model"] == "bicubic")]
    scenes = [str(s) for s in ds["scene"].values]
    if base.empty:
        return 0
    base = base[base["scene"].isin(scenes)].sort_values("cpsnr")
    if base.empty:
        return 0
    return scenes.index(str(base["scene"].iloc[len(base) // 2]))


def model_rank(records: pd.DataFrame, band: str, names: Sequence[str]) -> list[str]:
    """Model names sorted by mean cPSNR (best first) on one band."""
    sub = records[(records["band"] == band) & (records["model"].isin(list(names)))]
    order = sub.groupby("model")["cpsnr"].mean().sort_values(ascending=False)
    return [str(m) for m in order.index]


def strip_path(ds: xr.Dataset, band: str, split: str, scene: str) -> Path:
    """``plots/strip_<dataset>_<band>_<split>_<scene>.png``, each name sanitised."""
    parts = (ds.attrs["dataset"], band, split, scene)
    return Path("plots") / ("strip_" + "_".join(safe_name(p) for p in parts) + ".png")


def write_strips(
    ds: xr.Dataset,
    models: list[ResolvedModel],
    records: pd.DataFrame,
    out: Path,
    *,
    device: str = "cpu",
) -> list[str]:
    """Write one strip per split of ``ds`` into ``out/plots``; returns paths relative to ``out``."""
    if not models:
        return []
    band = band_label(ds)
    bands = [str(b) for b in ds["band"].values]
    by_name = {m.name: m for m in models}
    learned = [n for n in model_rank(records, band, list(by_name)) if n != "bicubic"]
    panels = (["bicubic"] if "bicubic" in by_name else []) + learned[:MAX_SR_PANELS]
    written: list[str] = []
    for split in sorted(set(map(str, ds["split"].values))):
        part = ds.isel(scene=np.flatnonzero(ds["split"].values.astype(str) == split))
        idx = select_scene_for_strip(records, part)
        batch = batch_from_dataset(part, [idx])
        assert batch.hr is not None
        hr = batch.hr[0].numpy()
        clear = batch.hr_mask[0].numpy() if batch.hr_mask is not None else np.ones(hr.shape[1:], bool)
        lo, hi = np.percentile(hr[:, clear] if clear.any() else hr, [1, 99])
        lr_idx = topk_indices(batch.lr_mask, batch.frame_valid, 1)[0, 0]
        lr = batch.lr[0, lr_idx].numpy()
        images = [("LR (clearest frame)", lr)]
        for name in panels:
            model = by_name[name].model.to(device).eval()
            with torch.inference_mode():
                sr = model(batch.lr.to(device), batch.lr_mask.to(device),
                           batch.frame_valid.to(device))
            images.append((name, sr[0].float().cpu().numpy()))
        images.append(("HR", hr))
        fig, axes = plt.subplots(1, len(images), figsize=(2.6 * len(images), 2.9))
        for ax, (title, img) in zip(np.atleast_1d(axes), images, strict=True):
            ax.imshow(_stretch(_display(img, bands), lo, hi), cmap="gray",
                      interpolation="nearest")
            ax.set_title(title, fontsize=9)
            ax.set_axis_off()
        scene = batch.scene[0]
        label = "SYNTHETIC" if ds.attrs.get("synthetic") else "REAL"
        fig.suptitle(f"{ds.attrs['dataset']} ({label}) · {band} · {split} · scene {scene} "
                     "(1 scene shown)", fontsize=10)
        fig.tight_layout()
        rel = strip_path(ds, band, split, scene)
        write_via(inside(out, rel), partial(fig.savefig, format="png", dpi=110))
        plt.close(fig)
        written.append(str(rel))
    return written
