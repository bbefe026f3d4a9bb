"""Real PROBA-V scenes for the metric tests, decoded straight from the official PNGs with PIL
(independently of satsr's dataset readers), plus the organisers' baseline SR for each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from satsr.models import create_model

SCENES = ("train/RED/imgset0000", "train/NIR/imgset0594")


@dataclass(frozen=True)
class Scene:
    """One PROBA-V scene as float64 uint16/65535 arrays, masks True = clear."""

    name: str
    hr: np.ndarray  # (384, 384)
    sm: np.ndarray  # (384, 384) bool
    lr: np.ndarray  # (T, 128, 128)
    qm: np.ndarray  # (T, 128, 128) bool
    sr: np.ndarray  # (384, 384) mean-bicubic baseline
    norm: float  # norm.csv value, dB


def _png(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def _load(root: Path, rel: str, norm: dict[str, float]) -> Scene:
    folder = root / rel
    lr_paths = sorted(folder.glob("LR*.png"))
    lr = np.stack([_png(p).astype(np.float64) / 65535.0 for p in lr_paths])
    qm = np.stack([_png(p.with_name("QM" + p.name[2:])).astype(bool) for p in lr_paths])
    model = create_model("mean-bicubic")
    with torch.no_grad():
        sr = model(torch.from_numpy(lr)[None, :, None], torch.from_numpy(qm)[None])
    return Scene(
        name=folder.name,
        hr=_png(folder / "HR.png").astype(np.float64) / 65535.0,
        sm=_png(folder / "SM.png").astype(bool),
        lr=lr,
        qm=qm,
        sr=sr[0, 0].numpy(),
        norm=norm[folder.name],
    )


@pytest.fixture(scope="session")
def scenes(probav_root: Path) -> list[Scene]:
    """Both real scenes (imgset0000 RED with a fully clear SM, imgset0594 NIR 96 % clear)."""
    lines = (probav_root / "norm.csv").read_text().split("\n")
    norm = {k: float(v) for k, v in (line.split() for line in lines if line.strip())}
    return [_load(probav_root, rel, norm) for rel in SCENES]



@pytest.fixture(scope="session")
def s2_image(l8s2_dir: Path) -> np.ndarray:
    """The real Sentinel-2 image's four reflectance bands (4, 439, 439) float64 (DN / 10000)."""
    import rasterio

    with rasterio.open(l8s2_dir / "2023-10-09-22-28-02_S2_ms.tif") as src:
        return src.read([1, 2, 3, 4]).astype(np.float64) / 10000.0
