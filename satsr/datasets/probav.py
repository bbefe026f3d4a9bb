"""The ESA Kelvins PROBA-V super-resolution dataset in the satsr sample schema.

Official layout (``satsr datasets download probav`` produces it)::

    ROOT/norm.csv                                  organisers' baseline cPSNR per scene
    ROOT/{train,test}/{RED,NIR}/imgsetNNNN/        one scene
        LR000.png .. LRnnn.png   128x128 uint16    300 m frames (9 to 34 per scene)
        QM000.png .. QMnnn.png   128x128 1-bit     True = clear LR pixel
        HR.png                   384x384 uint16    100 m target (train only)
        SM.png                   384x384 1-bit     True = clear HR pixel (train only)

Sizes: every LR/QM of a scene must have the scene's LR size (the most common one among its LR
frames: 128 in the official data; satsr's synthetic sample uses 32) and HR/SM exactly 3x that;
a PNG of another size or pixel type is reported by name.

Values are uint16 scaled by 65535 (``value_scale="uint16/65535"``, never 16383). Clear pixels
fit in 14 bits; concealed LR pixels can be brighter and may hold the fill value 65520: they are
kept as they are and marked False in ``lr_mask``. Official test scenes have no HR: their ``hr``
is zeros with ``hr_mask`` all False, so they cannot be scored.

Splits: official test scenes are ``test``; train scenes are ``train`` except the 188 scenes of
the literature validation split (RAMS, TR-MISR, PIUnet; ``splits/probav_val_rams.txt``) which
are ``val``.

``prepare_probav`` writes one sample-schema Zarr store per band (``ROOT/satsr/probav_RED.zarr``,
``ROOT/satsr/probav_NIR.zarr``); ``load_probav`` opens those lazily when they exist and decodes
the PNGs lazily (dask, one task per scene) otherwise.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, partial
from importlib import resources
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr
from PIL import Image

from satsr import __version__, schema
from satsr._digest import file_digest
from satsr.errors import ConfigError, CorruptFileError, DatasetNotFoundError, SchemaError

log = logging.getLogger(__name__)

BANDS: tuple[str, ...] = ("RED", "NIR")
OFFICIAL_SPLITS: tuple[str, ...] = ("train", "test")
LR_SIZE = 128
SCALE = 3
VALUE_SCALE = "uint16/65535"
PEAK = 65535.0
FILL_VALUE = 65520
FRAME_POLICIES: tuple[str, ...] = ("all", "topk", "tied-max")
ZENODO_RECORD = "https://zenodo.org/records/3840519"
SPLIT_FILE = "probav_val_rams.txt"
PREPARED_DIR = "satsr"
#: How prepared stores hold ``lr``/``hr``: uint16 ``k`` (read back as float32 ``k / 65535``)
#: without compression. Chosen by ``benchmarks/bench_probav_loading.py`` (storage options):
#: zstd saves ~40 % of the bytes of real scenes, but decompressing them dominated a load.
VALUE_CODEC = "none"

_LR_RE = re.compile(r"^LR(\d{3,})\.png$")


@dataclass(frozen=True)
class SceneFiles:
    """The files of one scene, checked for presence and pairing (not yet decoded)."""

    path: Path
    scene: str
    band: str
    official_split: str
    lr: tuple[Path, ...]
    qm: tuple[Path, ...]
    hr: Path | None
    sm: Path | None
    lr_size: int = LR_SIZE  # 128 officially (synthetic sample: 32); HR is SCALE x this

    @property
    def n_frames(self) -> int:
        return len(self.lr)


# --------------------------------------------------------------------------- PNG decoding


def _read_png(path: Path, *, size: int, kind: str) -> np.ndarray:
    """Decode one PNG: ``kind`` ``"uint16"`` (mode I;16) or ``"mask"`` (1-bit, True = clear)."""
    try:
        with Image.open(path) as im:
            mode = im.mode
            shape = im.size
            _check_png(path, mode, shape, size=size, kind=kind)
            arr = np.array(im)
    except (SchemaError, CorruptFileError):
        raise
    except FileNotFoundError:
        raise DatasetNotFoundError(f"{path} is missing; re-extract the PROBA-V archive "
                                   "(`satsr datasets download probav`)") from None
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError, zlib errors ...
        raise CorruptFileError(f"{path} is not a readable PNG ({type(exc).__name__}: {exc}); "
                               "the file is truncated or corrupt, re-download the PROBA-V "
                               "archive (`satsr datasets download probav`)") from None
    if kind == "uint16":
        return arr.astype(np.uint16, copy=False)
    return arr.astype(bool, copy=False)


def _check_png(path: Path, mode: str, shape: tuple[int, int], *, size: int, kind: str) -> None:
    """Reject PNGs of the wrong pixel type or size with a message naming the file."""
    want_modes = ("I;16", "I;16B", "I;16L") if kind == "uint16" else ("1",)
    if mode not in want_modes:
        what = "16-bit grayscale (uint16)" if kind == "uint16" else "1-bit mask"
        raise CorruptFileError(f"{path} has PNG mode {mode!r}, expected a {what} PNG as in the "
                               "official PROBA-V release; replace it with the original file")
    if shape != (size, size):
        role = (f"{SCALE} x the {size // SCALE}x{size // SCALE} LR frames"
                if path.name in ("HR.png", "SM.png") else "the size of the scene's LR frames")
        raise CorruptFileError(f"{path} is {shape[0]}x{shape[1]} pixels, expected {size}x{size}"
                               f" ({role}); replace it with the original PROBA-V file")


def _verify_png(path: Path, *, size: int, kind: str, full: bool) -> None:
    """Check a PNG's header (mode, size) and, with ``full``, every chunk CRC (no decode)."""
    try:
        with Image.open(path) as im:
            _check_png(path, im.mode, im.size, size=size, kind=kind)
            if full:
                im.verify()
    except (SchemaError, CorruptFileError):
        raise
    except Exception as exc:
        raise CorruptFileError(f"{path} is not a readable PNG ({type(exc).__name__}: {exc}); "
                               "the file is truncated or corrupt, re-download the PROBA-V "
                               "archive (`satsr datasets download probav`)") from None


def scan_scene(path: str | os.PathLike[str], *, band: str | None = None,
               official_split: str | None = None) -> SceneFiles:
    """List and pair the files of one scene folder; raise a clear error when one is missing."""
    path = Path(path)
    if not path.is_dir():
        raise DatasetNotFoundError(f"PROBA-V scene folder {path} does not exist")
    names = {p.name for p in path.iterdir()}
    frames = sorted(int(m.group(1)) for n in names if (m := _LR_RE.match(n)))
    if not frames:
        raise DatasetNotFoundError(f"PROBA-V scene {path} has no LRnnn.png frames; re-extract "
                                   "the archive (`satsr datasets download probav`)")
    if frames != list(range(len(frames))):
        missing = sorted(set(range(frames[-1] + 1)) - set(frames))
        raise DatasetNotFoundError(f"PROBA-V scene {path} skips LR frame(s) "
                                   f"{', '.join(f'LR{i:03d}.png' for i in missing[:3])}; "
                                   "re-extract the archive")
    lr = tuple(path / f"LR{i:03d}.png" for i in frames)
    qm = tuple(path / f"QM{i:03d}.png" for i in frames)
    for lr_file, qm_file in zip(lr, qm, strict=True):
        if qm_file.name not in names:
            raise DatasetNotFoundError(f"{lr_file} has no quality map {qm_file.name} next to it;"
                                       " every LR frame needs its QM: re-extract the archive")
    if band is None:
        band = path.parent.name
    if official_split is None:
        official_split = path.parent.parent.name
    hr = path / "HR.png" if "HR.png" in names else None
    sm = path / "SM.png" if "SM.png" in names else None
    if official_split == "train" and (hr is None or sm is None):
        missing_name = "HR.png" if hr is None else "SM.png"
        raise DatasetNotFoundError(f"train scene {path} has no {missing_name}; train scenes need "
                                   "HR.png and SM.png: re-extract the PROBA-V archive "
                                   "(`satsr datasets download probav`)")
    if (hr is None) != (sm is None):
        raise DatasetNotFoundError(f"scene {path} has only one of HR.png / SM.png; "
                                   "re-extract the PROBA-V archive")
    return SceneFiles(path, path.name, band, official_split, lr, qm, hr, sm, _lr_side(lr))


def _lr_side(lr: Sequence[Path]) -> int:
    """The LR side of a scene: the most common width among its square LR frames (headers only;
    128 in the official data, 32 in satsr's synthetic sample). Frames of another size, and an
    HR.png that is not 3x this side, are then reported by name by the regular checks."""
    sizes: list[int] = []
    for path in lr:
        try:
            with Image.open(path) as im:
                w, h = im.size
        except Exception:  # unreadable: the regular checks name the file
            continue
        if w == h and w > 0:
            sizes.append(w)
    if not sizes:
        return LR_SIZE
    values, counts = np.unique(np.array(sizes), return_counts=True)
    best = values[counts == counts.max()]
    return sizes[0] if sizes[0] in best else int(best[0])


def verify_scene(files: SceneFiles, *, full: bool = True) -> None:
    """Check every PNG of a scene (pixel type, size and, with ``full``, chunk CRCs)."""
    for lr_file, qm_file in zip(files.lr, files.qm, strict=True):
        _verify_png(lr_file, size=files.lr_size, kind="uint16", full=full)
        _verify_png(qm_file, size=files.lr_size, kind="mask", full=full)
    if files.hr is not None and files.sm is not None:
        _verify_png(files.hr, size=files.lr_size * SCALE, kind="uint16", full=full)
        _verify_png(files.sm, size=files.lr_size * SCALE, kind="mask", full=full)


def read_scene(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Decode one scene folder into raw numpy arrays (no scaling).

    Returns ``lr`` (T, h, w) uint16, ``qm`` (T, h, w) bool (True = clear) and, when the scene
    has a target, ``hr`` (3h, 3w) uint16 and ``sm`` (3h, 3w) bool; h = w = 128 officially.
    """
    files = scan_scene(path)
    return _decode(files)


def _decode(files: SceneFiles) -> dict[str, np.ndarray]:
    out = {
        "lr": np.stack([_read_png(p, size=files.lr_size, kind="uint16") for p in files.lr]),
        "qm": np.stack([_read_png(p, size=files.lr_size, kind="mask") for p in files.qm]),
    }
    if files.hr is not None and files.sm is not None:
        out["hr"] = _read_png(files.hr, size=files.lr_size * SCALE, kind="uint16")
        out["sm"] = _read_png(files.sm, size=files.lr_size * SCALE, kind="mask")
    return out


def _scene_arrays(files: SceneFiles, n_frames: int,
                  on_done: Callable[[], None] | None = None) -> tuple[np.ndarray, ...]:
    """One scene in schema form: lr (1,T,1,h,w) float32, lr_mask, hr, hr_mask."""
    raw = _decode(files)
    t = files.n_frames
    lr_size, hr_size = files.lr_size, files.lr_size * SCALE
    lr = np.zeros((1, n_frames, 1, lr_size, lr_size), dtype=np.float32)
    lr[0, :t, 0] = raw["lr"].astype(np.float32) / np.float32(PEAK)
    lr_mask = np.zeros((1, n_frames, lr_size, lr_size), dtype=bool)
    lr_mask[0, :t] = raw["qm"]
    hr = np.zeros((1, 1, hr_size, hr_size), dtype=np.float32)
    hr_mask = np.zeros((1, hr_size, hr_size), dtype=bool)
    if "hr" in raw:
        hr[0, 0] = raw["hr"].astype(np.float32) / np.float32(PEAK)
        hr_mask[0] = raw["sm"]
    if on_done is not None:
        on_done()
    return lr, lr_mask, hr, hr_mask


# --------------------------------------------------------------------------- root, splits, norm


def default_root() -> Path:
    """Where ``satsr datasets download probav`` puts the data: ``data_home()/"probav"``."""
    from satsr._home import data_home

    return data_home() / "probav"


def is_probav_root(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` holds the official layout (``train/`` or ``test/`` with band folders)."""
    path = Path(path)
    return any((path / split / band).is_dir() for split in OFFICIAL_SPLITS for band in BANDS)


def is_present() -> bool:
    """Whether the official PROBA-V layout is in :func:`default_root` (the registry's check)."""
    return is_probav_root(default_root())


def _resolve_root(root: str | os.PathLike[str] | None) -> Path:
    if root is None:
        path = default_root()
        if not path.exists():
            raise DatasetNotFoundError(
                f"PROBA-V is not downloaded (looked in {path}); run `satsr datasets download "
                "probav` then `satsr datasets prepare probav`, or pass --root/root= the folder")
        return path
    path = Path(root).expanduser()
    if not path.exists():
        raise DatasetNotFoundError(f"PROBA-V root {path} does not exist; pass the folder that "
                                   "holds train/ and test/, or run `satsr datasets download "
                                   f"probav --root {path}`")
    return path


def _check_band(band: str | None) -> list[str]:
    if band is None:
        return list(BANDS)
    if str(band).upper() not in BANDS:
        raise ConfigError(f"unknown PROBA-V band {band!r}; choose one of {list(BANDS)}")
    return [str(band).upper()]


def _check_split(split: str | None) -> None:
    if split is not None and split not in schema.SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {list(schema.SPLITS)}")


@cache
def val_scenes() -> frozenset[tuple[str, str]]:
    """The literature validation split as ``(band, scene id)`` pairs (188 train scenes)."""
    text = resources.files("satsr.datasets").joinpath("splits", SPLIT_FILE).read_text("utf-8")
    pairs = set()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            band, _, scene = line.partition("/")
            pairs.add((band, scene))
    return frozenset(pairs)


def scene_split(band: str, scene: str, official_split: str) -> str:
    """satsr split of a scene: ``test`` for official test scenes, else ``val`` or ``train``."""
    if official_split == "test":
        return "test"
    return "val" if (band, scene) in val_scenes() else "train"


def read_norm(root: Path) -> dict[str, float]:
    """``norm.csv`` as ``{scene id: baseline cPSNR in dB}`` (empty when the file is missing)."""
    path = root / "norm.csv"
    if not path.exists():
        log.warning("%s is missing; the norm variable will be NaN", path)
        return {}
    out: dict[str, float] = {}
    for i, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise CorruptFileError(f"{path} line {i} is {line!r}; expected '<scene id> <cPSNR>'"
                                   "; restore the original norm.csv")
        try:
            out[parts[0]] = float(parts[1])
        except ValueError:
            raise CorruptFileError(f"{path} line {i} has a non-numeric value {parts[1]!r}; "
                                   "restore the original norm.csv") from None
    return out


def _md5(path: Path) -> str:
    return file_digest(path, "md5") if path.exists() else ""


def scan_band(root: Path, band: str, split: str | None = None) -> list[SceneFiles]:
    """Every scene of ``band`` under ``root`` (optionally only one satsr split), sorted by id."""
    scenes: list[SceneFiles] = []
    for official in OFFICIAL_SPLITS:
        if split is not None and (split == "test") != (official == "test"):
            continue
        folder = root / official / band
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.iterdir() if p.is_dir()):
            if split is not None and scene_split(band, path.name, official) != split:
                continue
            scenes.append(scan_scene(path, band=band, official_split=official))
    return scenes


# --------------------------------------------------------------------------- building datasets


def build_band_dataset(
    root: Path,
    scenes: Sequence[SceneFiles],
    band: str,
    *,
    on_scene: Callable[[], None] | None = None,
) -> xr.Dataset:
    """A lazy (dask, one task per scene) sample-schema dataset decoding ``scenes`` on demand."""
    n_frames = max(s.n_frames for s in scenes)
    parts: dict[str, list[Any]] = {k: [] for k in ("lr", "lr_mask", "hr", "hr_mask")}
    ls = scenes[0].lr_size
    if any(s.lr_size != ls for s in scenes):
        sizes = sorted({s.lr_size for s in scenes})
        raise SchemaError(f"PROBA-V {band} scenes under {root} mix LR sizes {sizes}; keep one "
                          "size per band (official: 128x128)")
    hs = ls * SCALE
    shapes = {
        "lr": ((1, n_frames, 1, ls, ls), np.float32),
        "lr_mask": ((1, n_frames, ls, ls), bool),
        "hr": ((1, 1, hs, hs), np.float32),
        "hr_mask": ((1, hs, hs), bool),
    }
    for files in scenes:
        arrays = dask.delayed(_scene_arrays, pure=True)(files, n_frames, on_scene)
        for i, name in enumerate(parts):
            shape, dtype = shapes[name]
            parts[name].append(da.from_delayed(arrays[i], shape=shape, dtype=dtype))
    data = {name: da.concatenate(chunks, axis=0) for name, chunks in parts.items()}
    counts = np.array([s.n_frames for s in scenes], dtype=np.int64)
    frame_valid = np.arange(n_frames)[None, :] < counts[:, None]  # known without decoding
    norm_table = read_norm(root)
    ids = [s.scene for s in scenes]
    norm = np.array([norm_table.get(s, math.nan) for s in ids], dtype=np.float64)
    split = [scene_split(band, s.scene, s.official_split) for s in scenes]
    provenance = {
        "source": "ESA Kelvins PROBA-V Super Resolution challenge (2018-2019)",
        "record": ZENODO_RECORD,
        "root": str(root),
        "files": [str(s.path.relative_to(root)) for s in scenes],
        "n_png_files": int(sum(2 * s.n_frames + (2 if s.hr is not None else 0) for s in scenes)),
        "norm_csv_md5": _md5(root / "norm.csv"),
        "val_split": f"satsr/datasets/splits/{SPLIT_FILE} (RAMS/TR-MISR/PIUnet)",
        "test_scenes": "official test scenes have no HR: hr is zeros and hr_mask all False",
        "satsr_version": __version__,
    }
    ds = xr.Dataset(
        {
            "lr": (schema.LR_DIMS, data["lr"]),
            "lr_mask": (schema.LR_MASK_DIMS, data["lr_mask"]),
            "frame_valid": (schema.FRAME_VALID_DIMS, frame_valid),
            "hr": (schema.HR_DIMS, data["hr"]),
            "hr_mask": (schema.HR_MASK_DIMS, data["hr_mask"]),
            "norm": (("scene",), norm),
        },
        coords={
            "scene": np.array(ids, dtype=object),
            "frame": np.arange(n_frames, dtype=np.int64),
            "band": np.array([band], dtype=object),
            "split": ("scene", np.array(split, dtype=object)),
            "n_frames": ("scene", counts),
        },
        attrs={
            "schema_version": schema.SCHEMA_VERSION,
            "dataset": "probav",
            "scale": SCALE,
            "value_scale": VALUE_SCALE,
            "data_range": 1.0,
            # satsr's simulator writes SYNTHETIC.txt into every folder it makes
            "synthetic": (Path(root) / "SYNTHETIC.txt").is_file(),
            "lr_sensor": "PROBA-V 300m",
            "hr_sensor": "PROBA-V 100m",
            "provenance": json.dumps(provenance, sort_keys=True, default=str),
        },
    )
    schema.validate(ds)
    return ds


def prepared_path(root: str | os.PathLike[str], band: str, out: str | os.PathLike[str] | None
                  = None) -> Path:
    """Path of the prepared Zarr store of ``band`` (``out`` defaults to ``root/"satsr"``)."""
    base = Path(out) if out is not None else Path(root) / PREPARED_DIR
    return base / f"probav_{band}.zarr"


def _store_is_current(target: Path, root: Path, scenes: Sequence[SceneFiles]) -> bool:
    """True when ``target`` was prepared from exactly ``scenes`` in the current store format
    (an older format is rebuilt); raise when it was prepared from other scenes."""
    from satsr.integrity import store_format

    # provenance first: a store from other scenes (or not satsr's) is never replaced silently
    prov = schema.provenance(schema.open_dataset(target))
    want = [str(s.path.relative_to(root)) for s in scenes]
    if prov.get("files") != want:
        raise SchemaError(f"{target} was prepared from other scenes "
                          f"({len(prov.get('files', []))} listed, the folder now has "
                          f"{len(want)}); pass overwrite=True (--overwrite) to rebuild it")
    if store_format(target) < 2:
        log.info("%s uses an older store format; rebuilding it (faster reads)", target)
        return False
    return True


def prepare_probav(
    root: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    overwrite: bool = False,
    progress: bool = True,
) -> list[Path]:
    """Convert the PNG layout into one sample-schema Zarr store per band and return their paths.

    Every scene is checked first (files paired, PNG type/size, chunk CRCs), so a broken archive
    fails before anything is written; each store is written atomically by
    :func:`satsr.schema.save_dataset`, so a failure midway leaves no store behind. Re-running
    resumes: a store already prepared from the same scenes is kept (rebuilt when it has an
    older store format); one prepared from other scenes is an error unless ``overwrite``. :func:`load_probav` finds stores in the default ``out``
    (``root/"satsr"``); open stores written elsewhere with ``satsr.datasets.load_datasets(out)``.
    """
    from satsr.progress import make_progress

    root_path = _resolve_root(root)
    if not is_probav_root(root_path):
        raise DatasetNotFoundError(f"{root_path} is not a PROBA-V folder: expected train/RED, "
                                   "train/NIR, test/RED or test/NIR inside; run `satsr datasets "
                                   f"download probav --root {root_path}`")
    bands = {band: scan_band(root_path, band) for band in BANDS}
    bands = {band: scenes for band, scenes in bands.items() if scenes}
    targets = {band: prepared_path(root_path, band, out) for band in bands}
    todo = {band: scenes for band, scenes in bands.items()
            if overwrite or not targets[band].exists()
            or not _store_is_current(targets[band], root_path, scenes)}
    for band in bands.keys() - todo.keys():
        log.info("%s is already prepared from the same scenes; kept", targets[band])
    with make_progress(disable=not progress) as bar:
        task = bar.add_task("checking PROBA-V PNGs", total=sum(len(s) for s in todo.values()),
                            status="")
        for scenes in todo.values():
            for files in scenes:
                verify_scene(files, full=True)
                bar.advance(task)
        for band, scenes in todo.items():
            task = bar.add_task(f"writing probav_{band}.zarr", total=len(scenes), status="")
            ds = build_band_dataset(root_path, scenes, band,
                                    on_scene=partial(bar.advance, task))
            with dask.config.set(scheduler="threads"):
                schema.save_dataset(ds, targets[band], uint16_peak=int(PEAK),
                                    overwrite=overwrite or targets[band].exists(),
                                    value_codec=VALUE_CODEC)
    return [targets[band] for band in bands]


# --------------------------------------------------------------------------- frame policies


def _clear_counts(ds: xr.Dataset) -> np.ndarray:
    """(S, T) clear LR pixels per frame, -1 for padding frames (same rule as satsr.frames)."""
    counts = np.asarray(ds["lr_mask"].sum(("y", "x")).values, dtype=np.int64)
    valid = np.asarray(ds["frame_valid"].values, dtype=bool)
    return np.where(valid, counts, -1)


def topk_frame_indices(counts: np.ndarray, k: int) -> np.ndarray:
    """(S, k) indices of the k clearest valid frames (ties: lower index first), repeated
    cyclically when a scene has fewer than k valid frames; matches
    :func:`satsr.frames.topk_indices`."""
    order = np.argsort(-counts, axis=1, kind="stable")
    n_valid = np.maximum((counts >= 0).sum(1), 1)
    pos = np.arange(k)[None, :] % n_valid[:, None]
    return np.take_along_axis(order, pos, axis=1)


def select_frames(ds: xr.Dataset, frames: str = "all", k: int | None = None) -> xr.Dataset:
    """Apply a frame policy to a sample-schema dataset (lazy where the data is lazy).

    - ``all``: unchanged.
    - ``topk``: the ``k`` clearest valid frames of each scene, in decreasing clearance, repeated
      cyclically when a scene has fewer than ``k``; the frame dim becomes ``k`` long and the
      ``source_frame`` coordinate (scene, frame) says which original frame each one is.
    - ``tied-max``: the organisers' rule. Frames are *kept in place* and every frame not tied
      for the most clear pixels gets ``frame_valid = False`` (so frame i is still LRnnn i and
      models that honour ``frame_valid`` see only the tied frames).
    """
    if frames not in FRAME_POLICIES:
        raise ConfigError(f"unknown frame policy {frames!r}; choose one of {list(FRAME_POLICIES)}")
    if frames == "all":
        return ds
    counts = _clear_counts(ds)
    if frames == "tied-max":
        best = counts.max(axis=1, keepdims=True)
        keep = (counts == best) & (counts >= 0)
        return ds.assign(frame_valid=(schema.FRAME_VALID_DIMS, keep))
    if k is None or int(k) < 1:
        raise ConfigError("frame policy 'topk' needs k >= 1 (e.g. --k 9)")
    idx = topk_frame_indices(counts, int(k))
    n_scene = ds.sizes["scene"]
    scene_ix = xr.DataArray(np.repeat(np.arange(n_scene)[:, None], idx.shape[1], 1),
                            dims=("scene", "frame"))
    frame_ix = xr.DataArray(idx, dims=("scene", "frame"))
    framed = ds[["lr", "lr_mask", "frame_valid"]].drop_vars("frame")
    picked = framed.isel(scene=scene_ix, frame=frame_ix)
    out = ds.drop_dims("frame").assign(
        lr=(schema.LR_DIMS, picked["lr"].transpose(*schema.LR_DIMS).data),
        lr_mask=(schema.LR_MASK_DIMS, picked["lr_mask"].transpose(*schema.LR_MASK_DIMS).data),
        frame_valid=(schema.FRAME_VALID_DIMS, picked["frame_valid"].data),
    )
    out = out.assign_coords(frame=np.arange(idx.shape[1], dtype=np.int64),
                            source_frame=(("scene", "frame"), idx.astype(np.int64)))
    return out[list(ds.data_vars)]


def prepare_to(root: str | os.PathLike[str] | None, out: str | os.PathLike[str] | None = None,
               *, overwrite: bool = False) -> list[Path]:
    """The registry's ``prepare``: :func:`prepare_probav` with ``root`` defaulting to
    :func:`default_root`."""
    from satsr._lock import output_lock

    source = Path(root) if root is not None else default_root()
    with output_lock(Path(out) if out is not None else source / PREPARED_DIR):
        return prepare_probav(source, out, overwrite=overwrite)


# --------------------------------------------------------------------------- download


_MEMBER_RE = re.compile(r"^(?:train|test)/(?:RED|NIR)/imgset\d+/(?:LR|QM)\d{3,}\.png$")


def _archive_prefix(archive: Path) -> str | None:
    """The single top-level folder that holds train/ and test/ in the zip, if any.

    Refuses (one line) an archive that is not a zip or does not hold the PROBA-V layout
    (``norm.csv`` and ``{train,test}/{RED,NIR}/imgsetNNNN/LRnnn.png`` frames).
    """
    import zipfile

    try:
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if n.strip("/")]
    except zipfile.BadZipFile as exc:
        raise CorruptFileError(f"{archive.name} is not a valid zip archive ({exc}); check the "
                               "URL (--url) and download it again") from None
    unsafe = [n for n in names if n.startswith(("/", "\\")) or ".." in n.replace("\\", "/")
              .split("/")]
    if unsafe:
        raise CorruptFileError(f"{archive.name} member {unsafe[0]!r} points outside the target "
                               "folder; refusing this archive (check the URL, --url)")
    tops = {n.split("/", 1)[0] for n in names}
    prefix = None if tops & {"train", "test", "norm.csv"} or len(tops) != 1 else tops.pop()
    inner = [n[len(prefix) + 1:] if prefix else n for n in names]
    frames = sum(1 for n in inner if _MEMBER_RE.match(n))
    if not frames or "norm.csv" not in inner:
        raise CorruptFileError(f"{archive.name} does not hold the PROBA-V layout (norm.csv and "
                               "train|test/RED|NIR/imgsetNNNN/LRnnn.png; found "
                               f"{len(names)} other file(s)); check the URL (--url)")
    return prefix


def download_probav(
    root: str | os.PathLike[str] | None = None,
    *,
    url: str | None = None,
    size: int | None = None,
    md5: str | None = None,
    sha256: str | None = None,
    keep_archive: bool = True,
    progress: bool = True,
) -> Path:
    """Download the official archive (resumable), verify it, extract it into ``root``.

    ``url``/``size``/``md5``/``sha256`` override the shipped manifest
    (``satsr/datasets/manifests/probav.json``). Always verified: the zip's CRCs and the
    PROBA-V layout (an archive that is not PROBA-V is refused before it is kept or
    extracted); the archive's own size/md5/sha256 only when given or in the manifest. Returns
    ``root``, which then holds ``train/``, ``test/`` and ``norm.csv``.
    """
    from satsr.datasets.download import download, extract_zip, load_manifest

    manifest = load_manifest("probav")
    root_path = Path(root).expanduser() if root is not None else default_root()
    overridden = url is not None
    archive = root_path / manifest.filename
    got = download(
        url or manifest.url,
        archive,
        size=size if size is not None else (None if overridden else manifest.size),
        md5=md5 if md5 is not None else (None if overridden else manifest.md5),
        sha256=sha256 if sha256 is not None else (None if overridden else manifest.sha256),
        check=_archive_prefix,
        progress=progress,
    )
    try:
        extract_zip(got, root_path, strip=_archive_prefix(got), progress=progress)
    except CorruptFileError:
        got.unlink(missing_ok=True)  # a corrupt archive is not kept at its final path
        raise
    if not keep_archive:
        got.unlink()
    return root_path


# --------------------------------------------------------------------------- public loader


def load_probav(
    *,
    root: str | os.PathLike[str] | None = None,
    split: str | None = None,
    band: str | None = None,
    frames: str = "all",
    k: int | None = None,
    dask: bool = True,
) -> list[xr.Dataset]:
    """PROBA-V as sample-schema datasets, one per band (RED, NIR), lazily loaded.

    ``root`` defaults to ``data_home()/"probav"``. Prepared Zarr stores under ``root/"satsr"``
    are used when present (fast path); otherwise the PNGs are decoded on demand. ``split`` is
    ``train``/``val``/``test``; ``frames``/``k`` pick a frame policy (see :func:`select_frames`).
    Frames are padded to the largest frame count of the selection (``frame_valid`` False).
    ``dask=False`` opens prepared stores without dask (faster whole loads, see
    :func:`satsr.schema.open_dataset`).
    """
    bands = _check_band(band)
    _check_split(split)
    if frames not in FRAME_POLICIES:
        raise ConfigError(f"unknown frame policy {frames!r}; choose one of {list(FRAME_POLICIES)}")
    root_path = _resolve_root(root)
    out: list[xr.Dataset] = []
    for name in bands:
        store = prepared_path(root_path, name)
        if store.exists():
            ds = schema.open_dataset(store, dask=dask)
            if split is not None:
                keep = np.asarray(ds["split"].values).astype(str) == split
                if not keep.any():
                    continue
                ds = schema.trim_padding(ds.isel(scene=np.flatnonzero(keep)))
        else:
            scenes = scan_band(root_path, name, split)
            if not scenes:
                continue
            ds = build_band_dataset(root_path, scenes, name)
        out.append(select_frames(ds, frames, k))
    if not out:
        where = f" in split {split!r}" if split else ""
        raise DatasetNotFoundError(
            f"no PROBA-V scenes of band(s) {bands}{where} under {root_path}; expected "
            "train/<band>/imgsetNNNN or test/<band>/imgsetNNNN folders (run `satsr datasets "
            "download probav`)")
    return out


__all__ = [
    "BANDS",
    "FRAME_POLICIES",
    "SceneFiles",
    "default_root",
    "download_probav",
    "is_probav_root",
    "load_probav",
    "prepare_probav",
    "prepared_path",
    "read_norm",
    "read_scene",
    "scan_scene",
    "scene_split",
    "select_frames",
    "topk_frame_indices",
    "val_scenes",
]
