"""What a benchmark record's number depends on, as short keys stored in every record.

A record (one model × one scene) is reused by a resumed run only when all three keys match:

- ``model_key``: the model name and class, every hyper-parameter (preset included), the frame
  policy, the sha256 of the weights file actually loaded and its input normalisation;
- ``data_key``: a content hash of the scene (LR frames, masks, frame flags, HR, HR mask,
  ``norm``, split and band names) — any changed pixel changes it;
- ``metric_key``: the scoring settings (border crop, data range, scale, score mask, value scale)
  and :data:`satsr.metrics.version.METRICS_VERSION`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from satsr.bench.specs import ResolvedModel
from satsr.metrics.version import METRICS_VERSION

#: Variables whose content decides a scene's scores (``norm`` only where present).
SCENE_VARS = ("lr", "lr_mask", "frame_valid", "hr", "hr_mask", "norm")
#: Scenes read at once while hashing (bounds memory for large stores).
HASH_BLOCK = 32


def digest(obj: Any, n: int = 32) -> str:
    """First ``n`` hex digits of the sha256 of ``obj`` as canonical JSON (sorted keys)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:n]


def _plain(value: Any) -> Any:
    """JSON-able form of a hyper-parameter (tuples → lists, numpy scalars → numbers)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def model_identity(resolved: ResolvedModel) -> dict[str, Any]:
    """Everything about a resolved model that changes its output (see module docstring)."""
    from satsr.models.weights import file_sha256

    model = resolved.model
    path = resolved.weights_path
    return {
        "model": resolved.name,
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "hparams": _plain(getattr(model, "hparams", {})),
        "frame_policy": {"adapter": getattr(model, "adapter", "native"),
                         "k": getattr(model, "k", None),
                         "with_masks": getattr(model, "with_masks", None)},
        "normalisation": _plain(getattr(model, "satsr_normalisation", None)),
        "weights": resolved.weights,
        "weights_sha256": file_sha256(path) if path is not None else None,
        "meta": _plain(resolved.meta),  # e.g. the digests of stored predictions
    }


def metric_settings(ds: xr.Dataset, border: int) -> dict[str, Any]:
    """The scoring settings of a dataset × band (part of every record's identity)."""
    return {
        "metrics_version": METRICS_VERSION,
        "border": int(border),
        "data_range": float(ds.attrs["data_range"]),
        "scale": int(ds.attrs["scale"]),
        "score_mask": str(ds.attrs.get("score_mask", "hr")),
        "value_scale": str(ds.attrs.get("value_scale", "")),
    }


def _update(h: Any, name: str, arr: np.ndarray) -> None:
    arr = np.ascontiguousarray(arr)
    h.update(f"{name}|{arr.dtype.str}|{arr.shape}|".encode())
    h.update(arr.tobytes())


def scene_keys(ds: xr.Dataset) -> dict[str, str]:
    """``{scene id: data_key}``: a sha256 (32 hex) of each scene's content, read in blocks."""
    names = [v for v in SCENE_VARS if v in ds]
    bands = "|".join(str(b) for b in ds["band"].values).encode()
    keys: dict[str, str] = {}
    for start in range(0, ds.sizes["scene"], HASH_BLOCK):
        block = ds.isel(scene=slice(start, start + HASH_BLOCK))
        arrays = {v: np.asarray(block[v].values) for v in names}
        for i, (scene, split) in enumerate(zip(block["scene"].values, block["split"].values,
                                               strict=True)):
            h = hashlib.sha256(f"{scene}|{split}|".encode() + bands)
            for v in names:
                _update(h, v, arrays[v][i])
            keys[str(scene)] = h.hexdigest()[:32]
    return keys


def fingerprint(pairs: Iterable[tuple[str, str]]) -> str:
    """One hash of (scene, data_key) pairs, order-independent: a dataset table's fingerprint."""
    return digest(sorted(pairs))


__all__ = ["HASH_BLOCK", "SCENE_VARS", "digest", "fingerprint", "metric_settings",
           "model_identity", "scene_keys"]
