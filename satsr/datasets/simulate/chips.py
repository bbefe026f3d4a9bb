"""Landsat/Sentinel-2-style single-frame chips (SYNTHETIC) as a sample-schema dataset.

Four regions of 4×4 chips each are painted as continuous landscapes on a 5 m grid
(:data:`~satsr.datasets.simulate.scenes.CHIP_SCALE`); chips are tiles of them, and the
train/val/test split is by spatial blocks of 2×2 chips (whole blocks go to one split, which
limits spatial leakage to parcels straddling a block border).

Two sensors image every chip (reflectance 0-1, bands blue/green/red/nir):

- **HR, "Sentinel-2-like 10 m"**: Gaussian PSF σ = 0.5 HR px, 10 m box, noise σ ≈ 0.003,
  clouds in 30 % of chips (hr_mask False there), quantised to 1e-4 (L2A DN / 10000).
- **LR, "Landsat-like 30 m"**: wider PSF σ = 1.5 HR px on top of the 30 m box; a residual
  misregistration N(0, 0.15²) LR px per axis and region (a scene-wide co-registration
  residual, clipped to ±0.5, stored per chip in provenance); sensor
  spectral differences (per-band gain/offset, :data:`LANDSAT_GAIN`/:data:`LANDSAT_OFFSET`)
  plus a small per-chip drift; noise; clouds in 40 % of chips; quantised to the Collection 2
  L2 step (2.75e-5 reflectance).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from satsr import __version__, schema
from satsr.datasets.simulate.scenes import BANDS, CHIP_SCALE, SceneScale, render_scene
from satsr.datasets.simulate.sensor import SensorModel, clouds, observe, radiometry

#: Landsat-vs-Sentinel-2 spectral differences applied to the LR sensor (blue, green, red, nir).
LANDSAT_GAIN = (0.985, 1.010, 0.990, 1.025)
LANDSAT_OFFSET = (0.004, 0.002, -0.002, 0.005)

CHIP_LR_SENSOR = SensorModel(
    psf_sigma_hr=1.5,
    max_shift=0.5,
    gain_std=0.01,
    offset_std=0.002,
    noise_add=0.004,
    noise_signal=0.0001,
    p_clear=0.6,
    cloud_cover=(0.02, 0.35),
)
CHIP_HR_SENSOR = SensorModel(
    psf_sigma_hr=0.5,
    noise_add=0.003,
    noise_signal=0.00005,
    p_clear=0.7,
    cloud_cover=(0.01, 0.15),
)
MISREGISTRATION_STD = 0.15  # LR px, per axis


@dataclass(frozen=True)
class ChipConfig:
    """Geometry of the chip set: 4 regions × 4×4 chips of 32 → 96 px, blocks of 2×2 chips."""

    lr_size: int = 32
    scale: int = 3
    fine_per_hr: int = 2
    regions: int = 4
    chips_per_side: int = 4
    block: int = 2
    margin_lr: int = 2
    n_val_blocks: int = 3
    n_test_blocks: int = 3
    landscape: SceneScale = CHIP_SCALE
    lr_sensor: SensorModel = CHIP_LR_SENSOR
    hr_sensor: SensorModel = CHIP_HR_SENSOR

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly parameters (for provenance)."""
        return {
            "lr_size": self.lr_size, "hr_size": self.lr_size * self.scale, "scale": self.scale,
            "fine_per_hr": self.fine_per_hr, "regions": self.regions,
            "chips_per_side": self.chips_per_side, "block": self.block,
            "margin_lr": self.margin_lr, "n_val_blocks": self.n_val_blocks,
            "n_test_blocks": self.n_test_blocks, "landscape": self.landscape.as_dict(),
            "lr_sensor": self.lr_sensor.as_dict(), "hr_sensor": self.hr_sensor.as_dict(),
            "landsat_gain": list(LANDSAT_GAIN), "landsat_offset": list(LANDSAT_OFFSET),
            "misregistration_std_lr_px": MISREGISTRATION_STD,
            "lr_quantum": 2.75e-5, "hr_quantum": 1e-4,
        }


def _quantise(x: np.ndarray, step: float, offset: float = 0.0) -> np.ndarray:
    return (np.round((x + offset) / step) * step - offset).astype(np.float32)


def _block_splits(rng: np.random.Generator, cfg: ChipConfig) -> np.ndarray:
    """(regions, nb, nb) split names of the 2×2-chip blocks (val/test drawn without overlap)."""
    nb = cfg.chips_per_side // cfg.block
    n_blocks = cfg.regions * nb * nb
    order = rng.permutation(n_blocks)
    split = np.full(n_blocks, "train", dtype=object)
    split[order[:cfg.n_val_blocks]] = "val"
    split[order[cfg.n_val_blocks:cfg.n_val_blocks + cfg.n_test_blocks]] = "test"
    return split.reshape(cfg.regions, nb, nb)


def simulate_chips(seed: int, config: ChipConfig | None = None,
                   on_region: Callable[[], None] | None = None) -> xr.Dataset:
    """Simulate the whole chip set as an in-memory sample-schema dataset (synthetic=True)."""
    cfg = config or ChipConfig()
    n_side, h = cfg.chips_per_side, cfg.lr_size
    hr_size = h * cfg.scale
    f_lr = cfg.fine_per_hr * cfg.scale
    m = cfg.margin_lr
    fine_side = (n_side * h + 2 * m) * f_lr
    gain = np.asarray(LANDSAT_GAIN, dtype=np.float32)[None, :, None, None]
    offset = np.asarray(LANDSAT_OFFSET, dtype=np.float32)[None, :, None, None]
    blocks = _block_splits(np.random.default_rng([seed, 99]), cfg)

    ids: list[str] = []
    splits: list[str] = []
    lr_all, lr_mask_all, hr_all, hr_mask_all = [], [], [], []
    chips_meta: dict[str, dict[str, Any]] = {}
    for region in range(cfg.regions):
        rng = np.random.default_rng([seed, 7, region])
        fine = render_scene(rng, (fine_side, fine_side), cfg.landscape, bands=BANDS)
        spectrum = np.fft.fft2(fine.astype(np.float64))
        hr_region = observe(fine, factor=cfg.fine_per_hr, spectrum=spectrum,
                            sigma_fine=cfg.hr_sensor.psf_sigma_hr * cfg.fine_per_hr)[0]
        # the Landsat scene's residual co-registration error: one shift per region
        shift = np.clip(MISREGISTRATION_STD * rng.standard_normal((1, 2)), -0.5, 0.5)
        lr_region = observe(fine, factor=f_lr, spectrum=spectrum, shifts=shift,
                            sigma_fine=cfg.lr_sensor.psf_sigma_hr * cfg.fine_per_hr)
        lr_region = lr_region * gain + offset
        for cy in range(n_side):
            for cx in range(n_side):
                crng = np.random.default_rng([seed, 7, region, cy, cx])
                y0, x0 = (m + cy * h) * cfg.scale, (m + cx * h) * cfg.scale
                hr = hr_region[None, :, y0:y0 + hr_size, x0:x0 + hr_size]
                hr, _, _ = radiometry(crng, hr, cfg.hr_sensor)
                hr, hr_clear, hr_cover = clouds(crng, hr, cfg.hr_sensor)
                ly, lx = m + cy * h, m + cx * h
                lr = lr_region[:, :, ly:ly + h, lx:lx + h]
                lr, gains, offs = radiometry(crng, lr, cfg.lr_sensor)
                lr, lr_clear, lr_cover = clouds(crng, lr, cfg.lr_sensor)
                scene = f"chip_r{region}_y{cy}_x{cx}"
                ids.append(scene)
                splits.append(str(blocks[region, cy // cfg.block, cx // cfg.block]))
                lr_all.append(np.clip(_quantise(lr, 2.75e-5, 0.2), 0.0, 1.0))
                lr_mask_all.append(lr_clear)
                hr_all.append(np.clip(_quantise(hr[0], 1e-4), 0.0, 1.0))
                hr_mask_all.append(hr_clear[0])
                chips_meta[scene] = {
                    "region": region, "row": cy, "col": cx,
                    "misregistration_lr_px": np.round(shift[0], 6).tolist(),
                    "lr_gain_drift": round(float(gains[0]), 6),
                    "lr_offset_drift": round(float(offs[0]), 6),
                    "lr_cloud_cover": round(float(lr_cover[0]), 4),
                    "hr_cloud_cover": round(float(hr_cover[0]), 4),
                }
        if on_region is not None:
            on_region()
    provenance = {
        "synthetic": True,
        "generator": "satsr.datasets.simulate.chips",
        "seed": int(seed),
        "satsr_version": __version__,
        "config": cfg.as_dict(),
        "chips": chips_meta,
        "note": "SYNTHETIC data: procedural landscapes and simulated sensors, not real imagery",
    }
    return schema.build(
        lr=np.stack(lr_all), lr_mask=np.stack(lr_mask_all), hr=np.stack(hr_all),
        hr_mask=np.stack(hr_mask_all), scene_ids=ids, bands=BANDS, split=splits,
        scale=cfg.scale, dataset="sample-chips", value_scale="reflectance", data_range=1.0,
        synthetic=True, lr_sensor="synthetic Landsat-like 30 m",
        hr_sensor="synthetic Sentinel-2-like 10 m", provenance=provenance)
