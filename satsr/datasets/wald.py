"""Wald-protocol datasets from real imagery: ``satsr datasets make``.

Wald et al. (1997) evaluate resolution enhancement by degrading a real image to a lower
resolution and using the original as the reference. This module does that for any
georeferenced image: each band is imaged with the sensor's published MTF at Nyquist
(:mod:`satsr.datasets.simulate.mtf`) through the simulator's exact imaging chain
(:func:`satsr.datasets.simulate.sensor.observe`: Gaussian PSF, ``s × s`` area integration,
optional sub-pixel shifts per frame), then Gaussian noise is added. The image is cut into chips
(HR ``chip·s`` px) that go to train/val/test by spatial blocks of 2 × 2 chips, and written as a
sample-schema store with provenance (source files and their sha256, sensor, MTF and its source,
σ, noise, shifts). The store declares ``psf_sigma_hr`` so the consistency metric degrades with
the same model.
"""

from __future__ import annotations

import hashlib
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from satsr import __version__, schema
from satsr._checks import check_float, check_int
from satsr.datasets.simulate.mtf import psf_sigma_for_mtf, sensor_mtf
from satsr.datasets.simulate.sensor import observe
from satsr.errors import ConfigError, DatasetNotFoundError, InputValueError

#: Spatial blocks of 2 × 2 chips go to one split; block splits cycle test, val, train, train...
BLOCK = 2


@dataclass(frozen=True)
class WaldConfig:
    """Options of :func:`make_wald` (``satsr datasets make`` maps its flags onto these)."""

    sensor: str
    scale: int = 3
    chip: int = 32  # LR px per chip side (HR: chip · scale)
    frames: int = 1
    max_shift: float = 0.5  # LR px, uniform per axis for frames 1.. (frame 0 is unshifted)
    noise: float | None = None  # reflectance σ; None: the sensor's nominal value
    mtf: float | None = None  # MTF at Nyquist; None: the sensor's published value
    bands: tuple[str, ...] | None = None  # names of the first raster bands; None: the sensor's
    min_valid: float = 0.95  # fraction of valid HR pixels a chip needs
    seed: int = 0
    name: str = ""


@dataclass
class Image:
    """One input image: (C, H, W) float64 reflectance, (H, W) validity, georeference."""

    path: Path
    data: np.ndarray
    valid: np.ndarray
    crs: str
    transform: tuple[float, ...]
    sha256: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_image(path: str | os.PathLike[str], n_bands: int, dn_scale: float,
               dn_offset: float) -> Image:
    """Read the first ``n_bands`` bands of a GeoTIFF as reflectance (integers: DN·scale+offset).

    Pixels that are nodata, non-finite or 0 in an integer band are invalid. Raises one-line
    errors for a missing/unreadable file, no CRS, or too few bands.
    """
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

    path = Path(path).expanduser()
    if not path.is_file():
        raise DatasetNotFoundError(f"image {path} does not exist; pass an existing GeoTIFF to --from")
    try:
        with warnings.catch_warnings():  # no georeference: our own one-line error below
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            src = rasterio.open(path)
    except RasterioIOError as exc:
        raise InputValueError(f"cannot read {path} as a raster ({exc}); pass a GeoTIFF") from None
    with src:
        if src.crs is None:
            raise InputValueError(f"{path} has no CRS (not georeferenced); assign one first, e.g. "
                                  "gdal_edit.py -a_srs EPSG:XXXX FILE")
        if src.count < n_bands:
            raise InputValueError(f"{path} has {src.count} band(s) but {n_bands} are asked for; "
                                  "pass fewer names to --bands")
        raw = src.read(list(range(1, n_bands + 1)))
        nodata = src.nodata
        crs, transform = src.crs.to_string(), tuple(src.transform)[:6]
    valid = np.ones(raw.shape[1:], dtype=bool)
    if nodata is not None and not math.isnan(nodata):
        valid &= ~(raw == nodata).any(axis=0)
    if np.issubdtype(raw.dtype, np.integer):
        valid &= ~(raw == 0).any(axis=0)
        data = raw.astype(np.float64) * dn_scale + dn_offset
    else:
        data = raw.astype(np.float64)
    valid &= np.isfinite(data).all(axis=0)
    return Image(path, data, valid, crs, transform, _sha256(path))


def _chip_origins(shape: tuple[int, int], hr_chip: int) -> list[tuple[int, int, int, int]]:
    """(row, col, i, j) of every whole HR chip, centred in the image (i, j: lattice index)."""
    h, w = shape
    ny, nx = h // hr_chip, w // hr_chip
    oy, ox = (h - ny * hr_chip) // 2, (w - nx * hr_chip) // 2
    return [(oy + i * hr_chip, ox + j * hr_chip, i, j) for i in range(ny) for j in range(nx)]


def block_splits(lattice: Sequence[tuple[int, int]], seed: int) -> dict[tuple[int, int], str]:
    """Split of each 2 × 2 block of the chip lattice: a seeded order cycling test, val, train."""
    blocks = sorted({(i // BLOCK, j // BLOCK) for i, j in lattice})
    order = np.random.default_rng([seed, 7]).permutation(len(blocks))
    cycle = ("test", "val", "train", "train", "train")
    return {blocks[k]: cycle[rank % len(cycle)] for rank, k in enumerate(order)}


def split_of_chips(lattice: Sequence[tuple[int, int]], seed: int) -> list[str]:
    """Split per chip: by 2 × 2 blocks, or per chip when there are fewer than 3 blocks."""
    blocks = {(i // BLOCK, j // BLOCK) for i, j in lattice}
    if len(blocks) >= 3:
        table = block_splits(lattice, seed)
        return [table[(i // BLOCK, j // BLOCK)] for i, j in lattice]
    order = np.random.default_rng([seed, 7]).permutation(len(lattice))
    cycle = ("test", "val", "train", "train", "train")
    out = [""] * len(lattice)
    for rank, k in enumerate(order):
        out[k] = cycle[rank % len(cycle)]
    return out


def _frame_shifts(rng: np.random.Generator, frames: int, max_shift: float) -> np.ndarray:
    """(T, 2) shifts in LR px: frame 0 unshifted, the others uniform in ±max_shift per axis."""
    shifts = rng.uniform(-max_shift, max_shift, size=(frames, 2))
    shifts[0] = 0.0
    return shifts


def degrade_chip(window: np.ndarray, *, scale: int, sigma: float, shifts: np.ndarray,
                 margin_lr: int) -> np.ndarray:
    """(T, C, h, w) LR frames of an HR ``window`` (C, H + 2M, W + 2M), M = ``margin_lr``·scale.

    The margin keeps the periodic FFT of :func:`observe` (and the shifts) away from the chip.
    """
    low = observe(window, factor=scale, sigma_fine=sigma, shifts=shifts)
    m = margin_lr
    return low[:, :, m:low.shape[2] - m, m:low.shape[3] - m]


def _check_config(cfg: WaldConfig) -> None:
    check_int("--scale", cfg.scale, minimum=2)
    check_int("--chip", cfg.chip, minimum=4)  # LR px
    check_int("--frames", cfg.frames)
    check_float("--max-shift", cfg.max_shift, minimum=0.0, maximum=2.0)  # LR px
    check_float("--noise", cfg.noise, minimum=0.0, optional=True)  # reflectance σ
    check_float("--min-valid", cfg.min_valid, minimum=0.0, maximum=1.0)


def _chips_of(img: Image, cfg: WaldConfig, sigma: float, noise: float,
              rng: np.random.Generator) -> list[dict[str, Any]]:
    """Every chip of one image with enough valid pixels, degraded to its LR frames."""
    s, hr_chip = cfg.scale, cfg.chip * cfg.scale
    margin_lr = 2 + math.ceil((3 * sigma) / s + cfg.max_shift)
    pad = margin_lr * s
    filled = np.where(img.valid[None], img.data, np.nanmean(img.data[:, img.valid], axis=1)
                      [:, None, None] if img.valid.any() else 0.0)
    padded = np.pad(filled, ((0, 0), (pad, pad), (pad, pad)), mode="reflect")
    a, b, c, d, e, f = img.transform
    out = []
    for row, col, i, j in _chip_origins(img.valid.shape, hr_chip):
        valid = img.valid[row:row + hr_chip, col:col + hr_chip]
        if valid.mean() < cfg.min_valid:
            continue
        window = padded[:, row:row + hr_chip + 2 * pad, col:col + hr_chip + 2 * pad]
        shifts = _frame_shifts(rng, cfg.frames, cfg.max_shift)
        lr = degrade_chip(window, scale=s, sigma=sigma, shifts=shifts, margin_lr=margin_lr)
        lr = lr + noise * rng.standard_normal(lr.shape)
        lr_valid = valid.reshape(cfg.chip, s, cfg.chip, s).all(axis=(1, 3))
        x0, y0 = a * col + b * row + c, d * col + e * row + f
        out.append({
            "id": f"{img.path.stem}_r{i:02d}c{j:02d}", "ij": (i, j),
            "hr": img.data[:, row:row + hr_chip, col:col + hr_chip], "hr_mask": valid,
            "lr": lr, "lr_mask": np.broadcast_to(lr_valid, (cfg.frames, *lr_valid.shape)),
            "hr_transform": (a, b, x0, d, e, y0), "lr_transform": (a * s, b * s, x0, d * s, e * s, y0),
            "crs": img.crs, "shifts": shifts.round(6).tolist(),
        })
    return out


def parse_scale(text: str | int) -> int:
    """``--scale`` as an integer >= 2 (``"3"`` or 3); anything else is a one-line ConfigError."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = float("nan")
    if not math.isfinite(value) or value != int(value) or value < 2:
        raise ConfigError(f"--scale must be an integer >= 2 (the LR/HR pixel-size ratio, e.g. 3 "
                          f"for 10 m -> 30 m), got {text!r}")
    return int(value)


def _resolve(cfg: WaldConfig) -> tuple[tuple[str, ...], float, float, dict[str, Any]]:
    """Band names, σ (HR px), noise σ and the sensor facts for provenance."""
    sensor = sensor_mtf(cfg.sensor)
    bands = tuple(cfg.bands) if cfg.bands else sensor.bands
    mtf = sensor.mtf_nyquist if cfg.mtf is None else float(cfg.mtf)
    sigma = psf_sigma_for_mtf(mtf, cfg.scale)
    noise = sensor.noise if cfg.noise is None else float(cfg.noise)
    facts = {"sensor": sensor.name, "mtf_nyquist": mtf, "psf_sigma_hr": sigma,
             "mtf_source": sensor.source if cfg.mtf is None else "given with --mtf",
             "noise_reflectance": noise,
             "noise_source": sensor.noise_source if cfg.noise is None else "given with --noise"}
    return bands, sigma, noise, facts


def _read_all(paths: Sequence[str | os.PathLike[str]], cfg: WaldConfig,
              n_bands: int) -> list[Image]:
    sensor = sensor_mtf(cfg.sensor)
    images = [read_image(p, n_bands, sensor.dn_scale, sensor.dn_offset) for p in paths]
    hr_chip = cfg.chip * cfg.scale
    for img in images:
        h, w = img.valid.shape
        if h < hr_chip or w < hr_chip:
            raise InputValueError(
                f"{img.path} is {w}x{h} px, smaller than one chip ({hr_chip}x{hr_chip} px = "
                f"--chip {cfg.chip} LR px x --scale {cfg.scale}); pass a smaller --chip or a "
                "larger image")
    return images


def make_wald(paths: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str],
              config: WaldConfig, *, overwrite: bool = False) -> Path:
    """Build a Wald-protocol sample-schema store at ``out`` from real images; returns ``out``.

    Raises one-line :class:`~satsr.errors.SatsrError` subclasses for bad input (missing file,
    no CRS, a non-integer scale, an image smaller than one chip, no chip with enough valid
    pixels, an existing ``out`` without ``overwrite``). The store is written atomically.
    """
    _check_config(config)
    if not paths:
        raise ConfigError("no input image; pass one or more GeoTIFFs with --from")
    out = Path(out).expanduser()
    if out.exists() and not overwrite:
        raise ConfigError(f"{out} already exists; pass --overwrite to replace it or choose "
                          "another --out")
    bands, sigma, noise, facts = _resolve(config)
    images = _read_all(paths, config, len(bands))
    rng = np.random.default_rng(config.seed)
    chips = [c for img in images for c in _chips_of(img, config, sigma, noise, rng)]
    if not chips:
        raise InputValueError(
            f"no chip has {config.min_valid:.0%} valid pixels in {', '.join(map(str, paths))}; "
            "lower --min-valid or use images with less nodata")
    ds = _to_dataset(chips, images, config, bands, sigma, facts)
    return schema.save_dataset(ds, out, overwrite=overwrite)


def _to_dataset(chips: list[dict[str, Any]], images: list[Image], cfg: WaldConfig,
                bands: tuple[str, ...], sigma: float, facts: dict[str, Any]) -> xr.Dataset:
    splits: list[str] = []
    for img in images:  # one block layout per image
        mine = [c for c in chips if c["id"].startswith(img.path.stem + "_")]
        splits += split_of_chips([c["ij"] for c in mine], cfg.seed)
    name = cfg.name or f"wald-{facts['sensor']}"
    provenance = {
        "protocol": "Wald et al. 1997: real HR image degraded to LR; the original is the target",
        "sources": [{"file": img.path.name, "sha256": img.sha256, "crs": img.crs}
                    for img in images],
        **facts, "scale": cfg.scale, "chip_lr": cfg.chip, "frames": cfg.frames,
        "max_shift_lr": cfg.max_shift, "min_valid": cfg.min_valid, "seed": cfg.seed,
        "bands": list(bands), "shifts": {c["id"]: c["shifts"] for c in chips},
        "satsr_version": __version__, "config": asdict(cfg),
    }
    ds = schema.build(
        lr=np.stack([c["lr"] for c in chips]), lr_mask=np.stack([c["lr_mask"] for c in chips]),
        hr=np.stack([c["hr"] for c in chips]), hr_mask=np.stack([c["hr_mask"] for c in chips]),
        scene_ids=[c["id"] for c in chips], bands=bands, split=splits, scale=cfg.scale,
        dataset=name, value_scale="reflectance", data_range=1.0, synthetic=False,
        lr_sensor=f"{facts['sensor']} (simulated LR, Wald protocol)", hr_sensor=facts["sensor"],
        provenance=provenance,
        extra_vars={"hr_transform": (("scene", "affine"), np.array([c["hr_transform"]
                                                                    for c in chips])),
                    "lr_transform": (("scene", "affine"), np.array([c["lr_transform"]
                                                                    for c in chips]))},
        extra_coords={"crs": (("scene",), np.array([c["crs"] for c in chips], dtype=object))},
    )
    ds.attrs["psf_sigma_hr"] = float(sigma)
    ds.attrs["protocol"] = "wald"
    return ds
