"""Checks made before any prediction work: the output path, and the model against the input.

The model side comes from the weights sidecar (bands, sensor, scale, value scale, data range);
the input side from the raster's tags and band descriptions, or the flags that declare them
(``--bands``, ``--value-scale``, ``--sensor``). A fact missing on either side is not compared.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from satsr.errors import ConfigError, InputValueError
from satsr.predict.model import PredictModel
from satsr.predict.raster import RasterInput

OUTPUT_SUFFIXES = (".tif", ".tiff")


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def check_output_path(out: Path, inputs: Sequence[Path], *, overwrite: bool,
                      suffixes: tuple[str, ...] = OUTPUT_SUFFIXES) -> None:
    """Refuse an output that would overwrite or sit inside the input, has the wrong suffix,
    exists (unless ``overwrite``) or cannot be written."""
    if suffixes and out.suffix.lower() not in suffixes:
        raise ConfigError(f"--out {out} must end in {' or '.join(suffixes)}")
    target = out.resolve()
    for src in inputs:
        src = src.resolve()
        folder = src if src.is_dir() else src.parent
        if target == src or (src.is_dir() and _inside(target, folder)):
            raise ConfigError(f"--out {out} is inside the input {src}; write the prediction "
                              "somewhere else")
    if out.exists() and not overwrite:
        raise ConfigError(f"--out {out} already exists; pass --overwrite to replace it")
    check_writable(out.parent)


def check_writable(folder: Path) -> None:
    """Raise when files cannot be created in ``folder`` (created when missing)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot write to {folder} ({exc.strerror or exc}); choose another "
                          "--out or fix the folder's permissions") from None
    if not os.access(folder, os.W_OK):
        raise ConfigError(f"cannot write to {folder}; choose another --out")


def raster_facts(raster: RasterInput, *, value_scale: str | None = None,
                 sensor: str | None = None) -> dict[str, Any]:
    """The input's facts compared with the weights sidecar (flags win over the file's tags)."""
    tags = {k.lower(): v for k, v in raster.tags.items()}
    return {
        "dataset": ", ".join(p.name for p in raster.paths[:2]),
        "bands": list(raster.bands),
        "value_scale": value_scale or tags.get("value_scale", ""),
        "lr_sensor": sensor or tags.get("sensor", "") or tags.get("lr_sensor", ""),
    }


def check_model_input(pm: PredictModel, *, n_bands: int, scale: int | None,
                      facts: Mapping[str, Any], allow_mismatch: bool) -> list[str]:
    """Band count, scale and (with weights) the sidecar's facts; returns overridden mismatches."""
    if n_bands != pm.in_channels:
        raise InputValueError(f"the input has {n_bands} data band(s) but model {pm.name!r} "
                              f"takes {pm.in_channels}; pick the bands with --bands/--mask-band "
                              "or use weights trained on this many bands")
    if scale is not None and int(scale) != pm.scale:
        raise ConfigError(f"--scale {scale} does not match model {pm.name!r}, which upscales "
                          f"x{pm.scale}; drop --scale or use weights trained for x{scale}")
    if not pm.meta:
        return []
    from satsr.models.weights import check_compatible

    return list(check_compatible(pm.meta, facts, allow_mismatch=allow_mismatch,
                                 weights=pm.weights.name if pm.weights else None))
