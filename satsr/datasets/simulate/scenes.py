"""Procedural high-resolution land-cover scenes as surface reflectance (SYNTHETIC).

A scene is painted on a *fine* grid (finer than the HR target, so that area-averaging to HR
gives realistic mixed pixels) in this order:

1. agricultural parcels — rectangular strips or anisotropic Voronoi cells in a rotated frame,
   each with a land-cover class, its own reflectance, within-field row patterns (crops) and
   fractal texture; some parcel boundaries carry hedgerows;
2. a built-up block (some scenes) — bright roofs on a rotated grid, streets, cast shadows;
3. a meandering river (some scenes) with sandy or vegetated banks;
4. roads — thin anti-aliased lines, straight or gently curved;
5. a low-frequency multiplicative modulation (moisture/illumination) over land.

Reflectances per band (blue, green, red, nir) follow typical spectra: vegetation dark in red
and bright in NIR, water dark in both, soil rising towards NIR, roofs bright and flat.
Feature sizes are in metres (:class:`SceneScale`), so the same code draws PROBA-V-like (100 m)
and Sentinel-2-like (10 m) landscapes. Everything is vectorised numpy, seeded by the caller's
``numpy.random.Generator``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from satsr.datasets.simulate.noise import fractal_noise

BANDS: tuple[str, ...] = ("blue", "green", "red", "nir")

#: Typical surface reflectance (0-1) per class for (blue, green, red, nir).
REFLECTANCE: dict[str, tuple[float, float, float, float]] = {
    "water": (0.055, 0.060, 0.040, 0.020),
    "crop_dense": (0.030, 0.080, 0.040, 0.420),
    "crop_sparse": (0.050, 0.090, 0.085, 0.280),
    "soil": (0.090, 0.130, 0.180, 0.250),
    "grass": (0.040, 0.085, 0.060, 0.320),
    "forest": (0.025, 0.050, 0.030, 0.280),
    "roof": (0.180, 0.200, 0.220, 0.260),
    "roof_tile": (0.090, 0.110, 0.200, 0.280),
    "asphalt": (0.070, 0.080, 0.090, 0.120),
    "sand": (0.150, 0.190, 0.240, 0.300),
    "hedge": (0.030, 0.060, 0.040, 0.300),
}
PARCEL_CLASSES: tuple[str, ...] = ("crop_dense", "crop_sparse", "soil", "grass", "forest")
PARCEL_PROBS: tuple[float, ...] = (0.30, 0.17, 0.20, 0.20, 0.13)
CROPS = (0, 1)  # indices into PARCEL_CLASSES that get row patterns


@dataclass(frozen=True)
class SceneScale:
    """Feature sizes of a landscape in metres and the fine grid's pixel size."""

    pixel_m: float
    parcel_m: tuple[float, float] = (250.0, 900.0)
    road_width_m: tuple[float, float] = (15.0, 40.0)
    river_width_m: tuple[float, float] = (60.0, 200.0)
    bank_m: float = 60.0
    block_pitch_m: tuple[float, float] = (120.0, 250.0)
    row_period_m: tuple[float, float] = (100.0, 250.0)
    p_river: float = 0.5
    p_builtup: float = 0.5
    n_roads: tuple[int, int] = (1, 4)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly parameters (for provenance)."""
        return asdict(self)


#: PROBA-V-like scenes: 100 m HR pixels drawn on a 50 m fine grid.
PROBAV_SCALE = SceneScale(pixel_m=50.0, parcel_m=(300.0, 1100.0))
#: Sentinel-2-like scenes: 10 m HR pixels drawn on a 5 m fine grid.
CHIP_SCALE = SceneScale(
    pixel_m=5.0,
    parcel_m=(60.0, 260.0),
    road_width_m=(5.0, 12.0),
    river_width_m=(15.0, 45.0),
    bank_m=12.0,
    block_pitch_m=(18.0, 36.0),
    row_period_m=(12.0, 30.0),
    p_river=0.6,
    p_builtup=0.6,
    n_roads=(2, 5),
)


def _band_table(bands: Sequence[str]) -> dict[str, np.ndarray]:
    idx = [BANDS.index(b) for b in bands]
    return {name: np.asarray(vals, dtype=np.float32)[idx] for name, vals in REFLECTANCE.items()}


@functools.lru_cache(maxsize=4)
def _grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Centred pixel coordinates (y, x) of a (H, W) grid, as read-only float32 (1, W)/(H, 1)."""
    h, w = shape
    y = (np.arange(h, dtype=np.float32) - (h - 1) / 2)[:, None]
    x = (np.arange(w, dtype=np.float32) - (w - 1) / 2)[None, :]
    y.flags.writeable = False
    x.flags.writeable = False
    return y, x


def _rotated(shape: tuple[int, int], theta: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (u, v) of a (H, W) grid rotated by ``theta`` about its centre."""
    y, x = _grid(shape)
    c, s = float(np.cos(theta)), float(np.sin(theta))
    return x * c + y * s, -x * s + y * c


def _strip_parcels(
    rng: np.random.Generator, u: np.ndarray, v: np.ndarray, size_px: tuple[float, float]
) -> np.ndarray:
    """Rectangular parcels: columns of random widths along u, each cut at its own v offsets."""
    extent = float(max(np.abs(u).max(), np.abs(v).max())) + 1
    n_max = int(2 * extent / size_px[0]) + 2
    widths = rng.uniform(size_px[0], size_px[1], n_max)
    edges_u = np.cumsum(widths) - extent
    col = np.searchsorted(edges_u, u)
    heights = rng.uniform(0.5 * size_px[0], 1.5 * size_px[1], (n_max + 1, n_max))
    edges_v = np.cumsum(heights, axis=1) - extent - rng.uniform(0, size_px[1], (n_max + 1, 1))
    # one searchsorted for all columns: offset each column's (sorted) edges by col * span
    span = float(edges_v.max() - edges_v.min()) + 4 * extent
    offsets = np.arange(n_max + 1)[:, None] * span
    flat = (edges_v + offsets).ravel()
    row = np.searchsorted(flat, v + col * span) - col * n_max
    return (col * (n_max + 1) + row).astype(np.int64)


def _voronoi_parcels(
    rng: np.random.Generator, u: np.ndarray, v: np.ndarray, size_px: tuple[float, float]
) -> np.ndarray:
    """Elongated Voronoi parcels: nearest seed under an anisotropic metric in the (u, v) frame."""
    aspect = rng.uniform(1.3, 2.5)
    half = int(np.ceil(max(np.abs(u).max(), np.abs(v).max()))) + 2
    side = 2 * half
    mean_side = float(np.mean(size_px))
    n_seeds = max(4, int(side * side / (mean_side * mean_side)))
    sy, sx = rng.integers(0, side, n_seeds), rng.integers(0, side, n_seeds)
    seed_id = np.full((side, side), -1, dtype=np.int64)
    seed_id[sy, sx] = np.arange(n_seeds)
    iy, ix = ndimage.distance_transform_edt(
        seed_id < 0, sampling=(1.0, 1.0 / aspect), return_distances=False, return_indices=True)
    ui = np.clip(np.round(u + half).astype(np.int64), 0, side - 1)
    vi = np.clip(np.round(v + half).astype(np.int64), 0, side - 1)
    return seed_id[iy[vi, ui], ix[vi, ui]]


def _line_coverage(
    rng: np.random.Generator,
    shape: tuple[int, int],
    width_px: float,
    *,
    meander: float,
    angle: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Anti-aliased coverage (0-1) of a curved band of ``width_px`` and its |distance| (px).

    The centre line runs through a random point at ``angle`` with a lateral offset
    ``A1 sin(2πt/λ1 + φ1) + A2 sin(2πt/λ2 + φ2)``; ``meander`` scales A relative to the size.
    """
    h, w = shape
    size = float(max(h, w))
    theta = rng.uniform(0, np.pi) if angle is None else angle
    t, d = _rotated(shape, theta)
    d = d - float(rng.uniform(-0.3, 0.3)) * size
    amps = (meander * size * rng.uniform(0.3, 1.0, 2) * np.array([1.0, 0.35])).tolist()
    lams = (size * rng.uniform([0.5, 0.15], [1.2, 0.35])).tolist()
    phis = rng.uniform(0, 2 * np.pi, 2).tolist()
    if meander == 0:
        return np.clip(width_px / 2 - np.abs(d) + 0.5, 0.0, 1.0), np.abs(d)
    offset = np.zeros_like(t)
    slope = np.zeros_like(t)
    for a, lam, phi in zip(amps, lams, phis, strict=True):
        arg = t * (2 * np.pi / lam) + phi
        offset += a * np.sin(arg)
        slope += (a * 2 * np.pi / lam) * np.cos(arg)
    dist = np.abs(d - offset) / np.sqrt(1 + slope * slope)
    cover = np.clip(width_px / 2 - dist + 0.5, 0.0, 1.0)
    return cover.astype(np.float32), dist.astype(np.float32)


def _paint(img: np.ndarray, cover: np.ndarray, value: np.ndarray) -> None:
    """In place: ``img = img * (1 - cover) + value * cover`` (value per band or per pixel)."""
    value = value if value.ndim == 3 else value[:, None, None]
    img *= 1 - cover
    img += value * cover


def _paint_fields(rng: np.random.Generator, shape: tuple[int, int], scale: SceneScale,
                  table: dict[str, np.ndarray]) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """Parcels in a frame rotated to the dominant field orientation, with crop rows, texture
    and hedgerows: returns (image (B, H, W), the orientation theta, the rotated u, v grids)."""
    nb = len(next(iter(table.values())))
    h, w = shape
    px = scale.pixel_m
    theta = rng.uniform(0, np.pi / 2)
    u, v = _rotated(shape, theta)
    size_px = (scale.parcel_m[0] / px, scale.parcel_m[1] / px)
    if rng.random() < 0.5:
        label = _strip_parcels(rng, u, v, size_px)
    else:
        label = _voronoi_parcels(rng, u, v, size_px)
    n_parcels = int(label.max()) + 1
    cls = rng.choice(len(PARCEL_CLASSES), size=n_parcels, p=PARCEL_PROBS)
    base = np.stack([table[c] for c in PARCEL_CLASSES])[cls]  # (P, B)
    # per-parcel variation: a brightness factor shared by bands and a small spectral jitter
    vary = (1 + 0.15 * rng.standard_normal((n_parcels, 1))) * (
        1 + 0.05 * rng.standard_normal((n_parcels, nb)))
    parcel_refl = (base * np.clip(vary, 0.5, 1.6)).astype(np.float32)
    img = np.ascontiguousarray(np.moveaxis(parcel_refl[label], -1, 0))  # (B, H, W)

    # within-field rows for crops: a sinusoid along the parcel's axis, mixing towards soil
    is_crop = np.isin(cls, CROPS)
    row_axis = rng.integers(0, 2, n_parcels)
    period = np.maximum(rng.uniform(*scale.row_period_m, n_parcels) / px, 2.5)
    phase = rng.uniform(0, 2 * np.pi, n_parcels)
    amp = np.where(is_crop, rng.uniform(0.15, 0.45, n_parcels), 0.0).astype(np.float32)
    coord = np.where(row_axis[label] == 0, u, v)
    rows = 0.5 + 0.5 * np.sin(2 * np.pi * coord / period[label] + phase[label])
    _paint(img, (amp[label] * rows.astype(np.float32))[None], table["soil"])

    # fractal texture: mostly shared by bands, stronger in forests
    tex = fractal_noise(rng, (2, h, w), beta=1.8)
    tex_amp = np.where(cls == PARCEL_CLASSES.index("forest"), 0.14, 0.06).astype(np.float32)
    img *= 1 + tex_amp[label][None] * (0.8 * tex[0] + 0.2 * tex[1])[None]

    # hedgerows on some parcel boundaries
    edge = np.zeros(shape, dtype=bool)
    edge[:, :-1] |= label[:, :-1] != label[:, 1:]
    edge[:-1, :] |= label[:-1, :] != label[1:, :]
    hedged = rng.random(n_parcels) < 0.4
    _paint(img, (edge & hedged[label]).astype(np.float32)[None] * 0.6, table["hedge"])
    return img, theta, u, v


def _paint_builtup(rng: np.random.Generator, img: np.ndarray, u: np.ndarray, v: np.ndarray,
                   scale: SceneScale, table: dict[str, np.ndarray]) -> None:
    """A built-up block in place: roofs on a grid, streets, parks, shadows towards +u/+v."""
    h, w = img.shape[-2:]
    px = scale.pixel_m
    pitch = rng.uniform(*scale.block_pitch_m) / px
    half_u, half_v = rng.uniform(0.12, 0.3, 2) * max(h, w)
    cu, cv = rng.uniform(-0.3, 0.3, 2) * max(h, w)
    zone = (np.abs(u - cu) < half_u) & (np.abs(v - cv) < half_v)
    iu = np.floor((u - cu) / pitch).astype(np.int64)
    iv = np.floor((v - cv) / pitch).astype(np.int64)
    fu = (u - cu) / pitch - iu
    fv = (v - cv) / pitch - iv
    ncell = 4096
    cell = (iu * 131 + iv * 61) % ncell
    bsize = rng.uniform(0.45, 0.8, (ncell, 2)).astype(np.float32)
    present = rng.random(ncell) > 0.15
    roof_kind = rng.random(ncell) < 0.35
    roof_gain = rng.uniform(0.8, 1.4, ncell).astype(np.float32)
    building = zone & present[cell] & (fu < bsize[cell, 0]) & (fv < bsize[cell, 1])
    sh = rng.uniform(0.08, 0.2)
    shadow = (zone & present[cell] & ~building & (fu < bsize[cell, 0] + sh)
              & (fv < bsize[cell, 1] + sh))
    _paint(img, zone.astype(np.float32)[None], table["asphalt"])
    parks = zone & ~present[cell]
    _paint(img, parks.astype(np.float32)[None], table["grass"])
    roof = np.where(roof_kind[cell][None], table["roof_tile"][:, None, None],
                    table["roof"][:, None, None]) * roof_gain[cell][None]
    _paint(img, building.astype(np.float32)[None], roof.astype(np.float32))
    img *= 1 - 0.6 * shadow.astype(np.float32)[None]


def _paint_river(rng: np.random.Generator, img: np.ndarray, scale: SceneScale,
                table: dict[str, np.ndarray]) -> None:
    """A meandering river with sand or forest banks, in place."""
    shape = img.shape[-2:]
    px = scale.pixel_m
    width = rng.uniform(*scale.river_width_m) / px
    cover, dist = _line_coverage(rng, shape, width, meander=0.12)
    bank_w = scale.bank_m / px
    bank = np.clip(width / 2 + bank_w - dist + 0.5, 0.0, 1.0) * (1 - cover)
    bank_refl = table["sand"] if rng.random() < 0.5 else table["forest"]
    _paint(img, bank[None], bank_refl)
    water = table["water"] * np.float32(rng.uniform(0.8, 1.3))
    _paint(img, cover[None], water)


def render_scene(
    rng: np.random.Generator,
    shape: tuple[int, int],
    scale: SceneScale,
    bands: Sequence[str] = BANDS,
) -> np.ndarray:
    """Paint one synthetic landscape: (len(bands), H, W) float32 surface reflectance in [0, 1].

    ``shape`` is the fine grid (H, W) in pixels of ``scale.pixel_m`` metres.
    """
    table = _band_table(bands)
    nb = len(bands)
    h, w = shape
    px = scale.pixel_m
    img, theta, u, v = _paint_fields(rng, shape, scale, table)
    if rng.random() < scale.p_builtup:
        _paint_builtup(rng, img, u, v, scale, table)
    if rng.random() < scale.p_river:
        _paint_river(rng, img, scale, table)
    # roads: mostly along the field grid, some at random angles and gently curved
    for _ in range(int(rng.integers(scale.n_roads[0], scale.n_roads[1] + 1))):
        aligned = rng.random() < 0.6
        angle = theta + rng.integers(0, 2) * np.pi / 2 if aligned else None
        width = rng.uniform(*scale.road_width_m) / px
        meander = 0.0 if aligned else rng.uniform(0.0, 0.05)
        cover, _ = _line_coverage(rng, shape, width, meander=meander, angle=angle)
        _paint(img, cover[None], table["asphalt"] * np.float32(rng.uniform(0.9, 1.3)))

    # low-frequency moisture/illumination modulation (also slightly per band)
    low = fractal_noise(rng, (2, h, w), beta=3.2)
    img *= 1 + 0.06 * low[0][None] + 0.02 * low[1][None] * np.linspace(-1, 1, nb)[:, None, None]
    return np.clip(img, 0.0, 1.0).astype(np.float32)
