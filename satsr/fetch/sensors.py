"""Sensor preparation: raw band values → surface reflectance, clear masks, common band names.

Common bands are ``blue, green, red, nir`` (in that order):

=========  =====================  =======================================
common     Landsat 8/9 C2 L2      Sentinel-2 L2A
=========  =====================  =======================================
blue       SR_B2                  B2
green      SR_B3                  B3
red        SR_B4                  B4
nir        SR_B5                  B8 (10 m); B8A with ``harmonize=True``
=========  =====================  =======================================

Reflectance (unitless, ~0–1):

- Landsat Collection 2 Level-2 SR: ``DN * 2.75e-5 - 0.2`` (USGS), DN 0 = fill.
- Sentinel-2 L2A: ``DN / 10000``; products of processing baseline ≥ 04.00 (from 2022-01-25)
  carry an added ``BOA_ADD_OFFSET`` of 1000 DN, so ``(DN - 1000) / 10000`` for them unless the
  source already removed it (Earth Engine's ``S2_SR_HARMONIZED``: property ``harmonized=True``).
- An acquisition's ``properties`` may override all of this with ``scale``/``offset``
  (``reflectance = DN*scale + offset``), ``nodata``, or ``kind="reflectance"`` (already 0–1).

Clear masks (True = usable):

- Landsat: ``QA_PIXEL`` bits 0–4 (fill, dilated cloud, cirrus, cloud, cloud shadow) all 0 and
  ``QA_RADSAT == 0`` (no saturated band).
- Sentinel-2: Cloud Score+ ``cs_cdf >= 0.6`` (Google's recommended threshold) when the Cloud
  Score+ image is available; otherwise the Scene Classification Layer with clear classes
  4 (vegetation), 5 (not vegetated), 6 (water) and 11 (snow/ice). Class 7 ("unclassified",
  formerly "cloud low probability") is treated as NOT clear: it concentrates at cloud edges.
- Without any QA band (e.g. exported composites), every valid (non-nodata, finite) pixel is clear.

Optional HLS bandpass adjustment (``harmonize=True``) turns Sentinel-2 MSI reflectance into
Landsat-8 OLI-like reflectance with ``OLI = slope * MSI + offset`` per band, the coefficients of
the HLS v2.0 algorithm, "Bandpass adjustment" table (Sentinel-2A and 2B columns):
https://hls.gsfc.nasa.gov/algorithms/bandpass-adjustment/ (HLS Product User Guide v2.0,
https://lpdaac.usgs.gov/documents/1698/HLS_User_Guide_V2.pdf). The NIR reference band is B8A.
Sentinel-2C is not in that table; the Sentinel-2B coefficients are used for it and this fallback
is recorded in the provenance.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from satsr.fetch.types import Acquisition

COMMON_BANDS = ("blue", "green", "red", "nir")

LANDSAT_BANDS = {"blue": "SR_B2", "green": "SR_B3", "red": "SR_B4", "nir": "SR_B5"}
S2_BANDS = {"blue": "B2", "green": "B3", "red": "B4", "nir": "B8"}
S2_BANDS_HARMONIZED = {**S2_BANDS, "nir": "B8A"}

LANDSAT_QA_BANDS = ("QA_PIXEL", "QA_RADSAT")
S2_CLOUDSCORE_BANDS = ("cs_cdf",)
S2_SCL_BANDS = ("SCL",)

LANDSAT_SCALE, LANDSAT_OFFSET = 2.75e-5, -0.2
S2_SCALE = 1e-4
S2_BOA_ADD_OFFSET_DN = -1000.0
#: QA_PIXEL bits that make a pixel unusable: 0 fill, 1 dilated cloud, 2 cirrus, 3 cloud, 4 shadow
LANDSAT_QA_BAD_BITS = 0b11111
CS_CDF_CLEAR = 0.6
SCL_CLEAR = (4, 5, 6, 11)

#: HLS v2.0 MSI → OLI bandpass adjustment, (slope, offset) per common band (NIR from B8A)
HLS_COEFFICIENTS: dict[str, dict[str, tuple[float, float]]] = {
    "sentinel2a": {"blue": (0.9778, -0.004), "green": (1.0053, -0.0009),
                   "red": (0.9765, 0.0009), "nir": (0.9983, -0.0001)},
    "sentinel2b": {"blue": (0.9778, -0.004), "green": (1.0075, -0.0008),
                   "red": (0.9761, 0.001), "nir": (0.9966, 0.0)},
}
HLS_SOURCE = "https://hls.gsfc.nasa.gov/algorithms/bandpass-adjustment/ (HLS v2.0)"


@dataclass
class Prepared:
    """Reflectance ``(band, H, W)`` float32 (NaN where invalid) and ``clear`` ``(H, W)`` bool on the
    acquisition's grid, with a record of what was applied."""

    reflectance: np.ndarray
    clear: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


def processing_baseline(value: Any) -> float | None:
    """Parse a Sentinel-2 processing baseline (``"04.00"``, ``"N0400"``, ``4.0``) to a float."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    m = re.fullmatch(r"N?(\d{2})\.?(\d{2})", text)
    if m:
        return int(m.group(1)) + int(m.group(2)) / 100
    try:
        return float(text)
    except ValueError:
        return None


def spectral_bands(collection: str, *, harmonize: bool = False) -> list[str]:
    """Source-native names of blue, green, red, nir for a collection."""
    if collection == "landsat":
        return [LANDSAT_BANDS[b] for b in COMMON_BANDS]
    if collection == "sentinel2":
        table = S2_BANDS_HARMONIZED if harmonize else S2_BANDS
        return [table[b] for b in COMMON_BANDS]
    raise ValueError(f"unknown collection {collection!r}")


def mask_bands(acq: Acquisition) -> list[str]:
    """QA bands to read for ``acq``: declared in ``properties["bands"]`` if present, else the
    collection's standard ones (Cloud Score+ for S2 when ``cloud_score_id`` is set, else SCL)."""
    declared = acq.properties.get("bands")
    if acq.collection == "landsat":
        wanted: tuple[str, ...] = LANDSAT_QA_BANDS
    elif declared is not None:
        wanted = S2_CLOUDSCORE_BANDS + S2_SCL_BANDS
    else:
        wanted = S2_CLOUDSCORE_BANDS if acq.properties.get("cloud_score_id") else S2_SCL_BANDS
    if declared is None:
        return list(wanted)
    have = [str(b) for b in declared]
    picked = [b for b in wanted if b in have]
    if acq.collection == "sentinel2" and "cs_cdf" in picked:
        return ["cs_cdf"]
    return picked


def read_bands(acq: Acquisition, *, harmonize: bool = False) -> list[str]:
    """Every band the pipeline reads for ``acq``: blue, green, red, nir, then QA bands."""
    return spectral_bands(acq.collection, harmonize=harmonize) + mask_bands(acq)


def scale_offset(acq: Acquisition) -> tuple[float, float, str]:
    """``(scale, offset, why)`` with ``reflectance = DN*scale + offset`` for ``acq``."""
    props = acq.properties
    if props.get("kind") == "reflectance":
        return 1.0, 0.0, "values are reflectance already"
    if "scale" in props or "offset" in props:
        return float(props.get("scale", 1.0)), float(props.get("offset", 0.0)), "from source metadata"
    if acq.collection == "landsat":
        return LANDSAT_SCALE, LANDSAT_OFFSET, "Landsat C2 L2: DN*2.75e-5 - 0.2"
    baseline = processing_baseline(props.get("processing_baseline"))
    if props.get("harmonized"):
        return S2_SCALE, 0.0, "S2 L2A harmonized (offset removed by the source): DN/10000"
    if baseline is not None and baseline >= 4.0:
        return S2_SCALE, S2_BOA_ADD_OFFSET_DN * S2_SCALE, (
            f"S2 L2A baseline {baseline:05.2f} >= 04.00: (DN-1000)/10000")
    return S2_SCALE, 0.0, "S2 L2A baseline < 04.00: DN/10000"


def landsat_clear(qa_pixel: np.ndarray, qa_radsat: np.ndarray | None = None) -> np.ndarray:
    """True where QA_PIXEL bits 0–4 are all 0 and (if given) QA_RADSAT is 0."""
    clear = (qa_pixel.astype(np.int64) & LANDSAT_QA_BAD_BITS) == 0
    if qa_radsat is not None:
        clear &= qa_radsat == 0
    return np.asarray(clear)


def s2_clear_cloudscore(cs_cdf: np.ndarray, threshold: float = CS_CDF_CLEAR) -> np.ndarray:
    """True where Cloud Score+ ``cs_cdf >= threshold`` (NaN → not clear)."""
    with np.errstate(invalid="ignore"):
        return np.asarray(np.nan_to_num(cs_cdf.astype(np.float64), nan=-1.0) >= threshold)


def s2_clear_scl(scl: np.ndarray) -> np.ndarray:
    """True where the Scene Classification Layer class is in :data:`SCL_CLEAR`."""
    return np.isin(scl, SCL_CLEAR)


def hls_adjust(reflectance: np.ndarray, sensor: str) -> tuple[np.ndarray, str]:
    """Apply the HLS v2.0 MSI → OLI bandpass adjustment to ``(4, H, W)`` blue/green/red/nir(B8A)
    reflectance; returns the adjusted array and the coefficient set used."""
    used = sensor if sensor in HLS_COEFFICIENTS else "sentinel2b"
    coef = HLS_COEFFICIENTS[used]
    out = np.empty_like(reflectance, dtype=np.float32)
    for k, band in enumerate(COMMON_BANDS):
        slope, offset = coef[band]
        out[k] = reflectance[k] * slope + offset
    return out, used


def prepare(acq: Acquisition, raw: np.ndarray, bands: Sequence[str], *,
            harmonize: bool = False) -> Prepared:
    """Turn raw values read for ``bands`` (as :func:`read_bands` lists them) into reflectance of
    the common bands and a clear mask; ``raw`` has shape (len(bands), H, W)."""
    bands = list(bands)
    if raw.shape[0] != len(bands):
        raise ValueError(f"raw has {raw.shape[0]} bands, expected {len(bands)} ({bands})")
    spectral = spectral_bands(acq.collection, harmonize=harmonize)
    missing = [b for b in spectral if b not in bands]
    if missing:
        raise ValueError(f"bands {missing} of {acq.id} were not read")
    dn = np.stack([raw[bands.index(b)] for b in spectral]).astype(np.float64)
    scale, offset, why = scale_offset(acq)
    nodata = acq.properties.get("nodata", None if acq.properties.get("kind") == "reflectance" else 0)
    valid = np.all(np.isfinite(dn), axis=0)
    if nodata is not None:
        nd = float(nodata)
        valid &= np.all(dn != nd, axis=0) if np.isfinite(nd) else valid
    refl = (dn * scale + offset).astype(np.float32)
    info: dict[str, Any] = {"scaling": why, "scale": scale, "offset": offset,
                            "bands": dict(zip(COMMON_BANDS, spectral, strict=True))}
    if acq.collection == "landsat":
        qa = raw[bands.index("QA_PIXEL")] if "QA_PIXEL" in bands else None
        rs = raw[bands.index("QA_RADSAT")] if "QA_RADSAT" in bands else None
        if qa is not None:
            clear = landsat_clear(qa, rs)
            info["mask"] = "QA_PIXEL bits 0-4 == 0" + (" and QA_RADSAT == 0" if rs is not None else "")
        else:
            clear = np.ones(valid.shape, dtype=bool)
            info["mask"] = "no QA band: valid data treated as clear"
    else:
        if "cs_cdf" in bands:
            clear = s2_clear_cloudscore(raw[bands.index("cs_cdf")])
            info["mask"] = f"Cloud Score+ cs_cdf >= {CS_CDF_CLEAR}"
        elif "SCL" in bands:
            clear = s2_clear_scl(raw[bands.index("SCL")])
            info["mask"] = f"SCL in {list(SCL_CLEAR)}"
        else:
            clear = np.ones(valid.shape, dtype=bool)
            info["mask"] = "no QA band: valid data treated as clear"
        if harmonize:
            refl, used = hls_adjust(refl, acq.sensor)
            info["harmonization"] = {"method": "HLS v2.0 bandpass adjustment MSI->OLI",
                                     "coefficients": used, "source": HLS_SOURCE}
    clear = clear & valid
    refl[:, ~valid] = np.nan
    return Prepared(refl, clear, info)


__all__ = ["COMMON_BANDS", "HLS_COEFFICIENTS", "Prepared", "hls_adjust", "landsat_clear",
           "mask_bands", "prepare", "processing_baseline", "read_bands", "s2_clear_cloudscore",
           "s2_clear_scl", "scale_offset", "spectral_bands"]
