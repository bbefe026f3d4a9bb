"""PROBA-V-style multi-frame scenes (SYNTHETIC): one HR target and 9-14 shifted LR frames.

Per scene and band: a landscape is painted on a 50 m fine grid (:mod:`.scenes`), imaged once
by the HR sensor (100 m, ``σ = 0.4`` HR px) and ``T`` times by the LR sensor (300 m,
``σ = 1.0`` HR px, sub-pixel shifts, gain/offset drift, noise, clouds), then quantised to
PROBA-V DNs (:mod:`.sensor`). The values, masks and shifts come back as arrays; writing them
out is the caller's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from satsr.datasets.simulate.scenes import PROBAV_SCALE, SceneScale, render_scene
from satsr.datasets.simulate.sensor import (
    SensorModel,
    clouds,
    conceal,
    observe,
    radiometry,
    to_probav_dn,
)

#: LR sensor: 300 m PROBA-V-like frames.
PROBAV_LR_SENSOR = SensorModel(
    psf_sigma_hr=1.0,
    max_shift=0.4,
    gain_std=0.01,
    offset_std=0.003,
    noise_add=0.012,
    noise_signal=0.0006,
    p_clear=0.6,
    cloud_cover=(0.02, 0.5),
    p_concealed=0.08,
)
#: HR sensor: the 100 m target, mostly clear, less noisy, sharper.
PROBAV_HR_SENSOR = SensorModel(
    psf_sigma_hr=0.4,
    noise_add=0.002,
    noise_signal=0.00002,
    p_clear=0.7,
    cloud_cover=(0.01, 0.08),
)


@dataclass(frozen=True)
class MultiFrameConfig:
    """Geometry of the PROBA-V-style sample: LR size, scale, fine factor, frames, margin."""

    lr_size: int = 32
    scale: int = 3
    fine_per_hr: int = 2
    n_frames: tuple[int, int] = (9, 14)
    margin_lr: int = 2
    landscape: SceneScale = PROBAV_SCALE
    lr_sensor: SensorModel = PROBAV_LR_SENSOR
    hr_sensor: SensorModel = PROBAV_HR_SENSOR

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly parameters (for provenance)."""
        return {
            "lr_size": self.lr_size,
            "hr_size": self.lr_size * self.scale,
            "scale": self.scale,
            "fine_per_hr": self.fine_per_hr,
            "n_frames": list(self.n_frames),
            "margin_lr": self.margin_lr,
            "landscape": self.landscape.as_dict(),
            "lr_sensor": self.lr_sensor.as_dict(),
            "hr_sensor": self.hr_sensor.as_dict(),
        }


@dataclass
class MultiFrameScene:
    """One simulated scene in PROBA-V DNs: ``hr`` (H, W) uint16, ``sm`` (H, W) bool,
    ``lr`` (T, h, w) uint16, ``qm`` (T, h, w) bool (True = clear), plus ``meta`` (shifts etc.)."""

    hr: np.ndarray
    sm: np.ndarray
    lr: np.ndarray
    qm: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)


def simulate_scene(
    rng: np.random.Generator, band: str, config: MultiFrameConfig | None = None
) -> MultiFrameScene:
    """Simulate one PROBA-V-style scene for ``band`` (``"red"`` or ``"nir"``)."""
    cfg = config or MultiFrameConfig()
    f_lr = cfg.fine_per_hr * cfg.scale  # fine pixels per LR pixel
    side = (cfg.lr_size + 2 * cfg.margin_lr) * f_lr
    fine = render_scene(rng, (side, side), cfg.landscape, bands=(band,))

    m_hr = cfg.margin_lr * cfg.scale
    hr_size = cfg.lr_size * cfg.scale
    spectrum = np.fft.fft2(fine.astype(np.float64))
    hr = observe(fine, factor=cfg.fine_per_hr, spectrum=spectrum,
                 sigma_fine=cfg.hr_sensor.psf_sigma_hr * cfg.fine_per_hr)
    hr = hr[:, :, m_hr:m_hr + hr_size, m_hr:m_hr + hr_size]
    hr, _, _ = radiometry(rng, hr, cfg.hr_sensor)
    hr, sm, hr_cover = clouds(rng, hr, cfg.hr_sensor)

    t = int(rng.integers(cfg.n_frames[0], cfg.n_frames[1] + 1))
    shifts = rng.uniform(-cfg.lr_sensor.max_shift, cfg.lr_sensor.max_shift, (t, 2))
    lr = observe(fine, factor=f_lr, sigma_fine=cfg.lr_sensor.psf_sigma_hr * cfg.fine_per_hr,
                 shifts=shifts, spectrum=spectrum)
    m = cfg.margin_lr
    lr = lr[:, :, m:m + cfg.lr_size, m:m + cfg.lr_size]
    lr, gains, offsets = radiometry(rng, lr, cfg.lr_sensor)
    lr, qm, cover = clouds(rng, lr, cfg.lr_sensor)
    lr_dn = to_probav_dn(lr[:, 0])
    concealed = conceal(rng, lr_dn, qm, cfg.lr_sensor.p_concealed)
    meta = {
        "n_frames": t,
        "shifts_lr_px": np.round(shifts, 6).tolist(),
        "gains": np.round(gains, 6).tolist(),
        "offsets": np.round(offsets, 6).tolist(),
        "cloud_cover": np.round(cover, 4).tolist(),
        "concealed_pixels": concealed.tolist(),
        "hr_cloud_cover": round(float(hr_cover[0]), 4),
    }
    return MultiFrameScene(hr=to_probav_dn(hr[0, 0]), sm=sm[0], lr=lr_dn, qm=qm, meta=meta)
