"""Worked example of ``satsr predict`` on the real Landsat-9 / Sentinel-2 pair (Unalakleet).

Landsat-9 NIR (aggregated from the 15 m export grid back to 30 m) goes in, a ×3 prediction on a
10 m grid comes out, and both are compared with the Sentinel-2 NIR image of the same ground
reprojected onto that grid. Writes the small outputs the docs render
(``docs/examples/outputs/predict_unalakleet.{npz,json}``); the shared data itself is not
copied into the repository, only a 64×64 LR crop of the results.

Run: ``SATSR_TEST_DATA=../shared/data python docs/examples/predict_unalakleet.py``
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import rasterio
import torch

from satsr import __version__
from satsr._atomic import write_text, write_via
from satsr.metrics import cpsnr, psnr
from satsr.predict import RasterOptions, predict_raster
from satsr.viz import raster_layer

HERE = Path(__file__).resolve().parent
OUT = HERE / "outputs"
L9 = "2023-06-30-22-01-55_L9_ms.tif"
S2 = "2023-10-09-22-28-02_S2_ms.tif"
NIR_L9, NIR_S2 = 4, 4  # 1-based band numbers (see the data's PROVENANCE.md)
CROP = (slice(40, 104), slice(60, 124))  # 64×64 LR px around the town and runway
# (model spec, tile): bicubic clips to the whole frame's range (global), so it runs untiled;
# EDSR runs in 64-px tiles with a halo of its receptive field
MODELS = {"bicubic": ("bicubic", 256), "edsr-baseline": ("edsr-baseline:sample", 64)}


def landsat_nir_30m(src: Path, dst: Path) -> Path:
    """Landsat-9 NIR on the 15 m export grid → 30 m (2×2 means; nodata where any is -inf)."""
    with rasterio.open(src) as ds:
        nir = ds.read(NIR_L9).astype(np.float64)
        profile = ds.profile
        t = ds.transform
    h, w = nir.shape[0] // 2, nir.shape[1] // 2
    blocks = nir[: 2 * h, : 2 * w].reshape(h, 2, w, 2)
    agg = blocks.mean(axis=(1, 3))
    agg[~np.isfinite(blocks).all(axis=(1, 3))] = -np.inf
    profile.update(count=1, height=h, width=w, transform=t * t.scale(2, 2), dtype="float32",
                   nodata=-np.inf)
    with rasterio.open(dst, "w", **profile) as out:
        out.write(agg.astype(np.float32)[None])
        out.set_band_description(1, "nir")
        out.update_tags(value_scale="reflectance", sensor="Landsat-9 OLI-2")
    return dst


def scores(sr: np.ndarray, hr: np.ndarray) -> dict[str, float]:
    """PSNR and cPSNR (bias and ≤3 px shift removed) of SR against Sentinel-2, clear pixels."""
    mask = np.isfinite(sr[0]) & np.isfinite(hr[0])
    s = torch.from_numpy(np.nan_to_num(sr)).double()[None]
    h = torch.from_numpy(np.nan_to_num(hr)).double()[None]
    m = torch.from_numpy(mask)[None]
    return {"psnr": float(psnr(s, h, data_range=1.0, mask=m, crop=3)[0]),
            "cpsnr": float(cpsnr(s, h, m, border=3, data_range=1.0)[0])}


def main(data: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        lr_path = landsat_nir_30m(data / L9, work / "l9_nir_30m.tif")
        results, layers = {}, {}
        for label, (spec, tile) in MODELS.items():
            out = work / f"sr_{label}.tif"
            res = predict_raster(spec, lr_path, out, RasterOptions(
                tile=tile, progress=False, allow_mismatch=True, threads=1))
            results[label] = {"tiles": res.n_tiles, "halo": res.halo, "model": spec,
                              "mismatches": res.mismatches,
                              "weights_sha256": res.tags.get("satsr_weights_sha256", "")}
            layers[label] = raster_layer(out, label).data
        s2 = raster_layer(data / S2, "Sentinel-2", bands=[NIR_S2 - 1],
                          match=work / "sr_bicubic.tif").data / 10000.0
        lr = raster_layer(lr_path, "Landsat-9").data
    for label in MODELS:
        results[label].update(scores(layers[label], s2))
    ys, xs = CROP
    big = (slice(ys.start * 3, ys.stop * 3), slice(xs.start * 3, xs.stop * 3))
    arrays = {"lr": lr[:, ys, xs], "s2": s2[:, big[0], big[1]].astype(np.float32),
              **{f"sr_{k}": v[:, big[0], big[1]] for k, v in layers.items()}}
    OUT.mkdir(parents=True, exist_ok=True)
    write_via(OUT / "predict_unalakleet.npz", lambda p: np.savez_compressed(p, **arrays))
    write_text(OUT / "predict_unalakleet.json", json.dumps({
        "satsr_version": __version__, "lr": "Landsat-9 NIR, 30 m (2x2 mean of the 15 m export)",
        "hr": "Sentinel-2 B8 NIR / 10000, bilinear onto the 10 m prediction grid",
        "lr_size": list(lr.shape[1:]), "sr_size": list(layers["bicubic"].shape[1:]),
        "crop_lr": [ys.start, ys.stop, xs.start, xs.stop], "models": results,
        "note": "101 days apart (June vs October): scores are dominated by seasonal change"},
        indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    root = Path(os.environ.get("SATSR_TEST_DATA", HERE.parents[2] / "shared" / "data"))
    if not (root / "l8s2" / L9).exists():
        sys.exit(f"the shared Landsat-9/Sentinel-2 pair is not under {root}/l8s2; set "
                 "SATSR_TEST_DATA")
    main(root / "l8s2")
