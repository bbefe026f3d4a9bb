"""The satsr sample schema: one xarray layout for every dataset, on disk (Zarr) and in memory.

Variables (dims → dtype):

- ``lr``          (scene, frame, band, y, x) float32 — low-resolution frames on ``value_scale``.
- ``lr_mask``     (scene, frame, y, x) bool — True where the LR pixel is clear (usable).
- ``frame_valid`` (scene, frame) bool — False for padding frames (scenes with fewer frames).
- ``hr``          (scene, band, Y, X) float32 — the high-resolution target, ``Y = scale * y``.
- ``hr_mask``     (scene, Y, X) bool — True where the HR pixel is clear.

Optional variables:

- ``norm``        (scene,) float64 — PROBA-V ``norm.csv`` value (baseline cPSNR) per scene.
- ``lr_time``     (scene, frame) datetime64[ns]; ``hr_time`` (scene,) datetime64[ns].
- ``hr_transform``/``lr_transform`` (scene, affine) float64 — GDAL-order affine
  ``(a, b, c, d, e, f)`` of each chip, with ``crs`` (scene,) str (e.g. ``"EPSG:32604"``).

Coordinates: ``scene`` (str ids), ``frame`` (int), ``band`` (str names), ``split`` (scene,) str.

Attributes: ``schema_version``, ``dataset``, ``scale`` (int), ``value_scale`` (str, e.g.
``"uint16/65535"`` or ``"reflectance"``), ``data_range`` (float, the peak used by PSNR),
``lr_sensor``, ``hr_sensor``, ``synthetic`` (bool), ``provenance`` (JSON string); optional
``score_mask``: ``"hr"`` (default, the PROBA-V rule: score every clear HR pixel) or ``"hr&lr"``
(paired chips: score clear HR pixels whose LR pixel is clear in some valid frame).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from satsr import _storeread, integrity
from satsr._atomic import replace_dir, temp_sibling
from satsr.errors import CorruptFileError, DatasetNotFoundError, SchemaError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

LR_DIMS = ("scene", "frame", "band", "y", "x")
LR_MASK_DIMS = ("scene", "frame", "y", "x")
FRAME_VALID_DIMS = ("scene", "frame")
HR_DIMS = ("scene", "band", "Y", "X")
HR_MASK_DIMS = ("scene", "Y", "X")

REQUIRED_VARS: dict[str, tuple[tuple[str, ...], str]] = {
    "lr": (LR_DIMS, "float32"),
    "lr_mask": (LR_MASK_DIMS, "bool"),
    "frame_valid": (FRAME_VALID_DIMS, "bool"),
    "hr": (HR_DIMS, "float32"),
    "hr_mask": (HR_MASK_DIMS, "bool"),
}
OPTIONAL_VARS: dict[str, tuple[tuple[str, ...], str]] = {
    "norm": (("scene",), "float64"),
    "lr_time": (("scene", "frame"), "datetime64[ns]"),
    "hr_time": (("scene",), "datetime64[ns]"),
    "hr_transform": (("scene", "affine"), "float64"),
    "lr_transform": (("scene", "affine"), "float64"),
}
REQUIRED_ATTRS: dict[str, type | tuple[type, ...]] = {
    "schema_version": (int, np.integer),
    "dataset": str,
    "scale": (int, np.integer),
    "value_scale": str,
    "data_range": (float, int, np.floating, np.integer),
    "synthetic": (bool, np.bool_),
    "provenance": str,
}
SPLITS = ("train", "val", "test")
SCORE_MASKS = ("hr", "hr&lr")


def build(
    *,
    lr: np.ndarray,
    lr_mask: np.ndarray,
    hr: np.ndarray,
    hr_mask: np.ndarray,
    scene_ids: Sequence[str],
    bands: Sequence[str],
    split: Sequence[str] | str,
    scale: int,
    dataset: str,
    value_scale: str,
    data_range: float = 1.0,
    frame_valid: np.ndarray | None = None,
    synthetic: bool = False,
    lr_sensor: str = "",
    hr_sensor: str = "",
    provenance: Mapping[str, Any] | None = None,
    extra_vars: Mapping[str, tuple[tuple[str, ...], np.ndarray]] | None = None,
    extra_coords: Mapping[str, tuple[tuple[str, ...], np.ndarray]] | None = None,
) -> xr.Dataset:
    """Assemble (and validate) a sample-schema dataset from numpy arrays.

    Shapes: ``lr`` (S, T, C, h, w), ``lr_mask`` (S, T, h, w), ``hr`` (S, C, scale*h, scale*w),
    ``hr_mask`` (S, scale*h, scale*w), ``frame_valid`` (S, T) (default: all True).
    ``extra_vars`` holds optional variables such as ``norm``.
    """
    lr = np.asarray(lr, dtype=np.float32)
    n_scene, n_frame = lr.shape[:2] if lr.ndim >= 2 else (0, 0)
    if frame_valid is None:
        frame_valid = np.ones((n_scene, n_frame), dtype=bool)
    if isinstance(split, str):
        split = [split] * n_scene
    data_vars: dict[str, Any] = {
        "lr": (LR_DIMS, lr),
        "lr_mask": (LR_MASK_DIMS, np.asarray(lr_mask, dtype=bool)),
        "frame_valid": (FRAME_VALID_DIMS, np.asarray(frame_valid, dtype=bool)),
        "hr": (HR_DIMS, np.asarray(hr, dtype=np.float32)),
        "hr_mask": (HR_MASK_DIMS, np.asarray(hr_mask, dtype=bool)),
    }
    for name, (dims, values) in (extra_vars or {}).items():
        data_vars[name] = (dims, values)
    coords: dict[str, Any] = {
        "scene": np.array(list(scene_ids), dtype=object),
        "frame": np.arange(n_frame, dtype=np.int64),
        "band": np.array(list(bands), dtype=object),
        "split": ("scene", np.array(list(split), dtype=object)),
    }
    for name, (dims, values) in (extra_coords or {}).items():
        coords[name] = (dims, values)
    ds = xr.Dataset(
        data_vars,
        coords=coords,
        attrs={
            "schema_version": SCHEMA_VERSION,
            "dataset": dataset,
            "scale": int(scale),
            "value_scale": value_scale,
            "data_range": float(data_range),
            "synthetic": bool(synthetic),
            "lr_sensor": lr_sensor,
            "hr_sensor": hr_sensor,
            "provenance": json.dumps(dict(provenance or {}), sort_keys=True, default=str),
        },
    )
    validate(ds)
    return ds


def _fail(var: str, problem: str) -> SchemaError:
    return SchemaError(f"sample schema: {var!r} {problem}")


def validate(ds: xr.Dataset, *, check_values: bool = False) -> None:
    """Raise :class:`SchemaError` naming the variable if ``ds`` breaks the sample schema.

    Structure (variables, dims, dtypes, shapes, attributes) is always checked and is cheap even
    for dask-backed stores. ``check_values=True`` also loads the data and rejects NaN/inf in
    clear pixels.
    """
    if not isinstance(ds, xr.Dataset):
        raise SchemaError(f"sample schema: expected an xarray.Dataset, got {type(ds).__name__}")
    for name in REQUIRED_VARS:
        if name not in ds.variables:
            raise _fail(name, "is missing; every satsr dataset needs lr, lr_mask, frame_valid, "
                        "hr and hr_mask (see docs/concepts/schema.md)")
    for name, (dims, dtype) in {**REQUIRED_VARS, **OPTIONAL_VARS}.items():
        if name not in ds.variables:
            continue
        var = ds[name]
        if tuple(var.dims) != dims:
            raise _fail(name, f"has dims {tuple(var.dims)}, expected {dims}")
        if str(var.dtype) != dtype:
            raise _fail(name, f"has dtype {var.dtype}, expected {dtype}")
    for coord in ("scene", "band", "split"):
        if coord not in ds.coords:
            raise _fail(coord, "coordinate is missing")
    for name, kinds in REQUIRED_ATTRS.items():
        if name not in ds.attrs:
            raise _fail(name, "attribute is missing")
        if not isinstance(ds.attrs[name], kinds):
            raise _fail(name, f"attribute has type {type(ds.attrs[name]).__name__}")
    if int(ds.attrs["schema_version"]) > SCHEMA_VERSION:
        raise _fail("schema_version", f"is {ds.attrs['schema_version']}, newer than this satsr "
                    f"understands ({SCHEMA_VERSION}); upgrade satsr")
    scale = int(ds.attrs["scale"])
    if scale < 1:
        raise _fail("scale", f"attribute must be a positive integer, got {scale}")
    sizes = ds.sizes
    if sizes["Y"] != scale * sizes["y"] or sizes["X"] != scale * sizes["x"]:
        raise _fail("hr", f"is {sizes['Y']}x{sizes['X']} but lr is {sizes['y']}x{sizes['x']} "
                    f"at scale {scale}; expected {scale * sizes['y']}x{scale * sizes['x']}")
    splits = set(np.asarray(ds["split"].values).astype(str).tolist())
    unknown = splits - set(SPLITS)
    if unknown:
        raise _fail("split", f"has unknown values {sorted(unknown)}; allowed: {list(SPLITS)}")
    if ds.attrs.get("score_mask", "hr") not in SCORE_MASKS:
        raise _fail("score_mask", f"attribute is {ds.attrs['score_mask']!r}; allowed: "
                    f"{list(SCORE_MASKS)}")
    try:
        json.loads(ds.attrs["provenance"])
    except json.JSONDecodeError as exc:
        raise _fail("provenance", f"attribute is not valid JSON ({exc})") from None
    if check_values:
        for name in ("lr", "hr"):
            mask = ds["lr_mask"] if name == "lr" else ds["hr_mask"]
            bad = (~np.isfinite(ds[name]) & mask).any()
            if bool(bad):
                raise _fail(name, "contains NaN or inf in clear pixels; mask them out or fix "
                            "the source data")


#: Scenes per Zarr chunk. One scene per chunk made loading a prepared PROBA-V store dominated
#: by per-chunk/dask overhead (1.4x faster than decoding PNGs); 8 scenes per chunk keeps random
#: access cheap (a bench batch reads one chunk) and loads ~4x faster.
SCENES_PER_CHUNK = 8


def save_dataset(ds: xr.Dataset, path: str | os.PathLike[str], *, overwrite: bool = False,
                 uint16_peak: int | None = None, value_codec: str = "zstd",
                 scenes_per_chunk: int = SCENES_PER_CHUNK) -> Path:
    """Write ``ds`` to a Zarr store atomically (temp folder, then rename) and return its path.

    Either the complete store exists afterwards or nothing does: a crash midway leaves only a
    hidden temporary folder next to ``path``, never a half-written store under its name. Every
    chunk is written (even all-fill ones) with a crc32c checksum, and the content hash of every
    chunk is recorded (:mod:`satsr.integrity`), so :func:`open_dataset` can tell a missing,
    corrupt or swapped chunk from real data.

    ``uint16_peak`` (PROBA-V: 65535) stores ``lr``/``hr`` as uint16 ``k`` where every value is
    exactly ``k / peak`` (half the bytes to read and decompress; :func:`open_dataset` returns
    float32 ``k / peak`` again, bit for bit); a value off that grid is a :class:`SchemaError`.
    ``value_codec`` compresses ``lr``/``hr`` with zstd (``"zstd"``) or not at all (``"none"``:
    PROBA-V uint16 values compress to ~0.6 but decompressing them was most of a load).
    ``scenes_per_chunk``: scenes per Zarr chunk (:data:`SCENES_PER_CHUNK` unless measuring).
    """
    if value_codec not in VALUE_CODECS:
        raise SchemaError(f"unknown value_codec {value_codec!r}; choose one of "
                          f"{list(VALUE_CODECS)}")
    validate(ds)
    path = Path(path)
    if path.exists() and not overwrite:
        raise SchemaError(f"{path} already exists; pass overwrite=True (--overwrite) to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(path, "tmp")
    out = integrity.strip_hash_attrs(ds.copy())
    for name in list(out.variables):
        if out[name].dtype.kind in ("U", "T", "O"):
            out[name] = out[name].astype(object)
        out[name].encoding = {}
    out = out.chunk(_default_chunks(out, scenes_per_chunk))
    if uint16_peak is not None:
        out = _as_uint16(out, int(uint16_peak))
    for name in list(out.coords):  # keep non-index coords (split, ...) in memory: no dask objects
        if name not in out.dims:
            out = out.assign_coords({name: out[name].compute()})
    try:
        out.to_zarr(tmp, mode="w", consolidated=False, zarr_format=3,
                    encoding=_encoding(out, value_codec), write_empty_chunks=True)
        integrity.record_hashes(tmp)
        replace_dir(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


#: zstd level of every chunk: level 1 decodes real PROBA-V uint16 frames ~2x faster than the
#: default level 3 for ~14 % more bytes (``benchmarks/bench_probav_loading.py``).
ZSTD_LEVEL = 1
#: Codecs for ``lr``/``hr`` (:func:`save_dataset`'s ``value_codec``); masks, coordinates and
#: everything else always use zstd (level :data:`ZSTD_LEVEL`), then crc32c.
VALUE_CODECS = ("zstd", "none")


def _to_uint16(block: np.ndarray, peak: int) -> np.ndarray:
    """float32 ``k / peak`` → uint16 ``k``; raise when a value is not exactly on that grid."""
    k = np.rint(block.astype(np.float64) * peak)
    ok = np.isfinite(k).all() and k.min(initial=0) >= 0 and k.max(initial=0) <= 65535
    if ok:
        ku = k.astype(np.uint16)
        ok = np.array_equal(np.divide(ku, np.float32(peak), dtype=np.float32), block)
    if not ok:
        raise SchemaError(f"values are not integers / {peak} in 0..65535; save without "
                          "uint16_peak (float32 on disk)")
    return ku


def _as_uint16(ds: xr.Dataset, peak: int) -> xr.Dataset:
    """``ds`` with ``lr``/``hr`` as uint16 ``k`` (checked per chunk when written)."""
    from satsr.integrity import PEAK_ATTR

    for name in ("lr", "hr"):
        var = ds[name]
        data = var.data.map_blocks(_to_uint16, peak, dtype=np.uint16)
        ds = ds.assign({name: xr.Variable(var.dims, data, {**var.attrs, PEAK_ATTR: peak})})
    return ds


def _encoding(ds: xr.Dataset, value_codec: str = "zstd") -> dict[str, dict[str, Any]]:
    """The Zarr v3 codec pipeline of every variable: zstd (``lr``/``hr``: ``value_codec``),
    then a crc32c checksum.

    The crc32c codec must stay last: zarr verifies it before decompressing, so a truncated or
    random chunk file is reported as a checksum error, never decoded into wrong values.
    """
    from zarr.codecs import Crc32cCodec, ZstdCodec

    enc: dict[str, dict[str, Any]] = {
        str(name): {"compressors": [ZstdCodec(level=ZSTD_LEVEL), Crc32cCodec()]}
        for name in ds.variables}
    for name in ds.variables:
        if ds[name].dtype == np.uint16:  # k / peak values: no fill-value masking
            enc[str(name)]["_FillValue"] = None
    if value_codec == "none":
        for name in ("lr", "hr"):
            enc[name]["compressors"] = [Crc32cCodec()]
    return enc


def _default_chunks(ds: xr.Dataset, scenes_per_chunk: int) -> dict[str, int]:
    """``scenes_per_chunk`` scenes per chunk, every other dimension whole."""
    return {str(dim): (scenes_per_chunk if dim == "scene" else -1) for dim in ds.dims}


def open_dataset(path: str | os.PathLike[str], *, dask: bool = True) -> xr.Dataset:
    """Open a sample-schema Zarr store lazily and validate its structure.

    ``dask=True`` backs the variables with dask arrays (chunked, parallel, for slicing
    through large stores); ``dask=False`` with xarray's lazily indexed arrays — less CPU for
    loading whole stores into memory, which is what training does. Stores satsr wrote in the
    current format are read chunk by chunk by satsr itself (:mod:`satsr._storeread`), others
    through xarray's Zarr backend.

    Integrity (both ways): a missing or empty chunk file is a :class:`CorruptFileError` here
    (not fill values); later reads of ``lr``/``lr_mask``/``frame_valid``/``hr``/``hr_mask``
    check each chunk file's crc32c against the value recorded for its position before
    decoding it (see :mod:`satsr.integrity`; ``satsr datasets verify`` also checks every chunk
    file's sha256). Older store formats open with a warning; stores written before satsr
    recorded hashes too.
    """
    path = Path(path)
    if not path.exists():
        raise DatasetNotFoundError(f"dataset store {path} does not exist; check the path or "
                                   "create it with `satsr datasets prepare` / `satsr fetch`")
    try:
        problems = integrity.check_chunks_present(path, require_hashes=False)
        fast = None if problems else _storeread.open_store(path, tuple(REQUIRED_VARS), dask=dask)
        ds = fast if fast is not None else _open_zarr(path, dask=dask)
        # the fast reader opens only stores whose every array has crc32c records: format 2
        fmt = 2 if fast is not None else integrity.store_format(path)
    except CorruptFileError:
        raise
    except Exception as exc:  # zarr raises many types for non-stores and broken chunks
        damaged = _damage(path)
        if damaged:
            raise CorruptFileError(damaged) from None
        raise SchemaError(f"{path} is not a readable Zarr store ({type(exc).__name__}: {exc})"
                          ) from None
    if problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise CorruptFileError(problems[0] + more)
    if fmt == 0:
        log.warning("%s has no chunk checksums (written by an older satsr); re-create it to "
                    "protect it against corruption", path)
    elif fmt == 1:
        log.warning("%s uses satsr's older checksum format (slower reads); re-create it "
                    "(PROBA-V: `satsr datasets prepare probav --overwrite`) to read it faster",
                    path)
    if fast is None:
        ds = integrity.guard(integrity.strip_hash_attrs(ds), path, tuple(REQUIRED_VARS))
    validate(ds)
    return ds


def _open_zarr(path: Path, *, dask: bool) -> xr.Dataset:
    """The store opened by xarray (stores of other writers and older satsr versions)."""
    ds = (xr.open_zarr(path, consolidated=False) if dask
          else xr.open_zarr(path, consolidated=False, chunks=None))
    for name in ("scene", "band", "split"):
        if name in ds.coords:
            ds = ds.assign_coords({name: (ds[name].dims, ds[name].values.astype(object))})
    return ds


def _damage(path: Path) -> str:
    """The first integrity problem of a store that failed to open ("" when none is found)."""
    try:
        problems = integrity.verify_store(path) if integrity.has_hashes(path) else []
    except Exception:  # not a Zarr store at all: let the caller say so
        return ""
    more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    return problems[0] + more if problems else ""


def select(
    ds: xr.Dataset, *, split: str | None = None, band: str | Sequence[str] | None = None
) -> xr.Dataset:
    """Subset by split (``train``/``val``/``test``) and band name(s), with clear errors."""
    if split is not None:
        if split not in SPLITS:
            raise SchemaError(f"unknown split {split!r}; choose one of {list(SPLITS)}")
        keep = np.asarray(ds["split"].values).astype(str) == split
        if not keep.any():
            have = sorted(set(np.asarray(ds["split"].values).astype(str).tolist()))
            raise SchemaError(f"dataset {ds.attrs.get('dataset', '?')!r} has no scenes in split "
                              f"{split!r}; it has {have}")
        ds = ds.isel(scene=np.flatnonzero(keep))
    if band is not None:
        wanted = [band] if isinstance(band, str) else list(band)
        have = [str(b) for b in ds["band"].values]
        missing = [b for b in wanted if b not in have]
        if missing:
            raise SchemaError(f"unknown band {missing[0]!r} in dataset "
                              f"{ds.attrs.get('dataset', '?')!r}; it has bands {have}")
        ds = ds.isel(band=[have.index(b) for b in wanted])
    return ds


def trim_padding(ds: xr.Dataset) -> xr.Dataset:
    """Drop trailing frames that are padding in every scene (e.g. after selecting a split)."""
    valid = np.asarray(ds["frame_valid"].values, dtype=bool)
    used = np.flatnonzero(valid.any(axis=0))
    n = int(used[-1]) + 1 if used.size else 0
    return ds if n == ds.sizes["frame"] else ds.isel(frame=slice(0, n))


def provenance(ds: xr.Dataset) -> dict[str, Any]:
    """The dataset's provenance record, decoded from its JSON attribute."""
    return dict(json.loads(ds.attrs.get("provenance", "{}")))
