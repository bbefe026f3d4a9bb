"""Sensor models that turn a fine-grid reflectance scene into LR frames and an HR target.

The imaging chain for one band image (all steps vectorised over frames and bands):

1. **Geometry + optics, exactly, in the Fourier domain.** The fine scene's spectrum is
   multiplied by a sub-pixel translation ``exp(2πi f·s)`` (frame ``t`` sees the scene at
   ``(y + dy_t, x + dx_t)``, shifts in output pixels), a Gaussian PSF
   ``exp(-2π² σ² |f|²)`` and the transfer function of the detector's box (area) integration
   over ``factor × factor`` fine pixels. Sampling every ``factor``-th pixel is done by folding
   the spectrum (aliasing included, exactly), so no fine-resolution inverse FFT is needed.
   The scene carries a margin wider than shift + 3σ, so the periodic FFT never wraps into the
   crop.
2. **Radiometry.** Per-frame gain/offset drift ``g_t · x + o_t``; noise with variance
   ``σ_a² + k · x`` (additive + signal-dependent, shot-noise-like).
3. **Clouds.** Smooth fractal blobs (``beta`` = 3.5) thresholded to a drawn cover fraction
   with soft edges; a pixel becomes ``(1 - α) x + α c`` with bright cloud reflectance ``c``,
   and is flagged not clear wherever ``α > alpha_clear``.
4. **Quantisation** (PROBA-V style): reflectance ``r`` → ``16 · round(r · 16383 / 16)``,
   clipped to ``[0, 16368]`` (14-bit range, multiples of 16), stored as uint16; a few
   *concealed* pixels hold the fill value 65520 and are masked.

All parameters live in :class:`SensorModel` and are written to the dataset provenance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from satsr.datasets.simulate.noise import fractal_noise, soft_threshold

PROBAV_MAX_DN = 16368  # largest multiple of 16 that fits in 14 bits
PROBAV_FILL = 65520  # concealed-pixel fill value in the official PROBA-V PNGs
PROBAV_DN_PER_REFLECTANCE = 16383.0


@dataclass(frozen=True)
class SensorModel:
    """Parameters of a simulated sensor (distances in *its own output* pixels unless noted).

    ``psf_sigma_hr`` is the Gaussian PSF σ in HR pixels (the detector box comes on top);
    ``max_shift`` bounds the uniform per-frame sub-pixel shift in LR pixels; ``gain_std`` and
    ``offset_std`` (reflectance) set the per-frame brightness drift; ``noise_add`` (σ_a,
    reflectance) and ``noise_signal`` (k, reflectance) set the noise; ``p_clear`` is the chance a
    frame is cloud-free, otherwise its cloud cover is uniform in ``cloud_cover``;
    ``p_concealed`` is the chance a frame has a few concealed (fill-value) pixels.
    """

    psf_sigma_hr: float
    max_shift: float = 0.0
    gain_std: float = 0.0
    offset_std: float = 0.0
    noise_add: float = 0.0
    noise_signal: float = 0.0
    p_clear: float = 1.0
    cloud_cover: tuple[float, float] = (0.02, 0.5)
    cloud_reflectance: tuple[float, float] = (0.45, 0.8)
    alpha_clear: float = 0.05
    p_concealed: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly parameters (for provenance)."""
        return asdict(self)


def _box_transfer(freq: np.ndarray, factor: int) -> np.ndarray:
    """Transfer function of averaging ``factor`` consecutive samples starting at each sample."""
    out = np.zeros(freq.shape, dtype=np.complex128)
    for d in range(factor):
        out += np.exp(2j * np.pi * freq * d)
    return out / factor


def axis_transfer(n: int, factor: int, sigma_fine: float, shifts: np.ndarray) -> np.ndarray:
    """(T, n) transfer functions of the 1-D imaging chain along one axis, one per shift.

    ``exp(-2π²σ²f²)`` (Gaussian PSF, σ in fine px) × the ``factor``-box integration ×
    ``exp(2πi f·factor·s_t)`` (translation by ``s_t`` output px), at the DFT frequencies ``f``.
    """
    freq = np.fft.fftfreq(n)
    base = np.exp(-2 * np.pi**2 * sigma_fine**2 * freq**2) * _box_transfer(freq, factor)
    phase = np.exp(2j * np.pi * freq[None, :] * (np.asarray(shifts, float)[:, None] * factor))
    return base[None, :] * phase


def observe(
    fine: np.ndarray,
    *,
    factor: int,
    sigma_fine: float,
    shifts: np.ndarray | None = None,
    spectrum: np.ndarray | None = None,
) -> np.ndarray:
    """Image a fine scene: shift, Gaussian blur, ``factor``-area integration and sampling.

    ``fine`` is (B, H, W) with H, W divisible by ``factor``; ``sigma_fine`` is the Gaussian PSF σ
    in fine pixels; ``shifts`` (T, 2) are (dy, dx) in *output* pixels (frame ``t`` pixel
    ``(i, j)`` integrates the scene around ``(i + dy, j + dx)``). Returns (T, B, H/factor,
    W/factor) float32 (T = 1 without shifts). Output pixel ``(i, j)`` covers fine pixels
    ``factor·i … factor·i + factor - 1`` when unshifted. Pass ``spectrum = np.fft.fft2(fine)``
    to reuse it when imaging one scene with several sensors.

    Exact for the periodic fine grid: the spectrum is multiplied by the separable transfer
    functions of :func:`axis_transfer`, and sampling every ``factor``-th pixel is done by
    folding the spectrum (summing its ``factor`` aliases per axis), which keeps the aliasing a
    real detector has and needs only a small inverse FFT.
    """
    b, h, w = fine.shape
    if h % factor or w % factor:
        raise ValueError(f"fine grid {h}x{w} is not divisible by factor {factor}")
    shifts = np.zeros((1, 2)) if shifts is None else np.asarray(shifts, dtype=np.float64)
    t, ho, wo = len(shifts), h // factor, w // factor
    ty = axis_transfer(h, factor, sigma_fine, shifts[:, 0])  # (T, H)
    tx = axis_transfer(w, factor, sigma_fine, shifts[:, 1])  # (T, W)
    spec = np.fft.fft2(fine.astype(np.float64)) if spectrum is None else spectrum  # (B, H, W)
    along_y = (spec[None] * ty[:, None, :, None]).reshape(t, b, factor, ho, w).sum(axis=2)
    both = (along_y * tx[:, None, None, :]).reshape(t, b, ho, factor, wo).sum(axis=3)
    out = np.fft.ifft2(both).real / (factor * factor)
    return out.astype(np.float32)


def radiometry(
    rng: np.random.Generator, frames: np.ndarray, sensor: SensorModel
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply per-frame gain/offset drift and noise to (T, B, h, w) reflectance.

    Returns ``(frames, gains (T,), offsets (T,))``; gain and offset are shared by a frame's bands.
    """
    t = frames.shape[0]
    gains = np.asarray(1 + sensor.gain_std * rng.standard_normal(t))
    offsets = np.asarray(sensor.offset_std * rng.standard_normal(t))
    out = frames * gains[:, None, None, None] + offsets[:, None, None, None]
    var = sensor.noise_add**2 + sensor.noise_signal * np.clip(out, 0, None)
    out = out + np.sqrt(var) * rng.standard_normal(out.shape)
    return out.astype(np.float32), gains, offsets


def clouds(
    rng: np.random.Generator, frames: np.ndarray, sensor: SensorModel
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw cloud blobs per frame and composite them over (T, B, h, w) reflectance.

    Returns ``(frames, clear (T, h, w) bool, cover (T,))`` where ``cover`` is the drawn cloud
    fraction (0 for a clear frame).
    """
    t, _, h, w = frames.shape
    cover = np.where(rng.random(t) < sensor.p_clear, 0.0, rng.uniform(*sensor.cloud_cover, t))
    field = fractal_noise(rng, (t, h, w), beta=3.5)
    alpha = soft_threshold(field, cover, softness=0.6)
    texture = fractal_noise(rng, (t, h, w), beta=2.5)
    level = np.asarray(rng.uniform(*sensor.cloud_reflectance, t))[:, None, None]
    cloud = np.clip(level * (1 + 0.08 * texture), 0, 1)  # (T, h, w), spectrally flat
    out = frames * (1 - alpha[:, None]) + (alpha * cloud)[:, None]
    clear = alpha <= sensor.alpha_clear
    return out.astype(np.float32), clear, cover


def to_probav_dn(reflectance: np.ndarray) -> np.ndarray:
    """Reflectance → PROBA-V-style uint16 DN: multiples of 16 in ``[0, 16368]``."""
    dn = np.round(reflectance.astype(np.float64) * (PROBAV_DN_PER_REFLECTANCE / 16.0)) * 16.0
    return np.clip(dn, 0, PROBAV_MAX_DN).astype(np.uint16)


def conceal(
    rng: np.random.Generator, dn: np.ndarray, clear: np.ndarray, p: float
) -> np.ndarray:
    """In place on (T, h, w) uint16 ``dn``/bool ``clear``: give some frames a few concealed pixels.

    A concealed pixel holds :data:`PROBAV_FILL` and is not clear. Returns per-frame counts.
    """
    t, h, w = dn.shape
    counts = np.zeros(t, dtype=np.int64)
    for i in np.flatnonzero(rng.random(t) < p):
        n = int(rng.integers(1, 9))
        y0, x0 = int(rng.integers(0, h)), int(rng.integers(0, w - n + 1))
        dn[i, y0, x0:x0 + n] = PROBAV_FILL  # a short run along a scan line
        clear[i, y0, x0:x0 + n] = False
        counts[i] = n
    return counts
