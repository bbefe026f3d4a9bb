"""Named datasets over the sample schema, and a single way to open any of them.

``open_dataset(name_or_path, split=..., band=...)`` returns one sample-schema
:class:`xarray.Dataset`; ``load_datasets`` returns one per band group (PROBA-V keeps RED and NIR
in separate stores because they are separate benchmark tracks).

Names come from the ``DATASETS`` registry (:func:`register_dataset` adds one): ``sample``
(synthetic PROBA-V-style multi-frame set, generated on first use), ``sample-chips`` (synthetic
Landsat/Sentinel-2-style single-frame chips), ``probav`` (the ESA Kelvins challenge data;
``satsr datasets download/prepare probav``). Anything else is a path: a sample-schema Zarr
store, or a folder in the official PROBA-V layout.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xarray as xr

from satsr import schema
from satsr._home import data_home
from satsr._registry import Registry, load_target
from satsr.errors import ConfigError, DatasetNotFoundError


@dataclass(frozen=True)
class DatasetEntry:
    """A named dataset: how to load, download, prepare and find it, and its default split.

    Callables are ``"module:function"`` strings imported on use:

    - ``loader(root=, split=, band=) -> list[xr.Dataset]`` (one sample-schema dataset per band
      group; an optional ``dask=`` argument receives ``False`` for whole loads);
    - ``download(root, **options) -> Path`` (``options``: ``url``, ``size``, ``md5``,
      ``sha256``, ``keep_archive``), None when the data are generated rather than downloaded;
    - ``prepare(root, out, *, overwrite) -> list[Path]`` writes sample-schema Zarr stores;
    - ``present() -> bool`` says whether the data are on disk (default: a non-empty
      ``data_home()/<name>``).

    ``default_split`` is what ``satsr bench`` scores when no ``--split`` is given (None: every
    scene with a target).
    """

    name: str
    loader: str
    description: str
    synthetic: bool = False
    default_split: str | None = None
    download: str | None = None
    prepare: str | None = None
    present: str | None = None

    def load(self, *, root: str | os.PathLike[str] | None = None, split: str | None = None,
             band: str | None = None, dask: bool = True) -> list[xr.Dataset]:
        """The dataset's band groups (see ``loader``). ``dask=False`` (whole loads, e.g.
        training) is passed on to loaders that take a ``dask`` argument."""
        import inspect

        fn = load_target(self.loader, what=f"dataset {self.name!r}")
        extra = {} if dask or "dask" not in inspect.signature(fn).parameters else {"dask": False}
        return fn(root=root, split=split, band=band, **extra)  # type: ignore[no-any-return]

    def check_downloadable(self) -> None:
        """Raise a one-line :class:`ConfigError` when the dataset has no ``download``."""
        if self.download is None:
            can = ", ".join(n for n, e in DATASETS.items() if e.download) or "none"
            how = "generated, not downloaded" if self.synthetic else "not downloadable"
            raise ConfigError(f"dataset {self.name!r} cannot be downloaded (it is {how}); "
                              f"downloadable datasets: {can}")

    def fetch(self, root: Path | None = None, **options: Any) -> Path:
        """Download the dataset into ``root`` (``download``); other datasets refuse."""
        self.check_downloadable()
        assert self.download is not None
        fn = load_target(self.download, what=f"dataset {self.name!r}")
        return fn(root, **options)  # type: ignore[no-any-return]

    def make_stores(self, root: Path | None = None, out: Path | None = None, *,
                    overwrite: bool = False) -> list[Path]:
        """Write the dataset as sample-schema Zarr stores (``prepare``)."""
        if self.prepare is None:
            can = ", ".join(n for n, e in DATASETS.items() if e.prepare) or "none"
            raise ConfigError(f"dataset {self.name!r} cannot be prepared; choose one of: {can}")
        fn = load_target(self.prepare, what=f"dataset {self.name!r}")
        return fn(root, out, overwrite=overwrite)  # type: ignore[no-any-return]

    def is_present(self) -> bool:
        """Whether the data are on disk (downloaded, generated or prepared)."""
        if self.present is not None:
            return bool(load_target(self.present, what=f"dataset {self.name!r}")())
        folder = data_home() / self.name
        return folder.exists() and any(folder.iterdir())


DATASETS: Registry[DatasetEntry] = Registry(
    "dataset", not_found=DatasetNotFoundError, hint="`satsr datasets list` lists them")


def register_dataset(entry: DatasetEntry) -> DatasetEntry:
    """Add a named dataset (``satsr bench/train --dataset NAME`` and ``satsr datasets`` use it)."""
    return DATASETS.register(entry.name, entry)


def unregister_dataset(name: str) -> None:
    """Remove a named dataset (tests and notebooks clean up with it)."""
    DATASETS.unregister(name)


def dataset_entry(name: str) -> DatasetEntry:
    """The :class:`DatasetEntry` called ``name``; unknown names raise with close matches."""
    return DATASETS.get(name)


register_dataset(DatasetEntry(
    "sample", "satsr.datasets.sample:load_sample",
    "SYNTHETIC PROBA-V-style multi-frame scenes (RED, NIR) generated by satsr's simulator",
    synthetic=True, default_split="test", prepare="satsr.datasets.sample:prepare_sample"))
register_dataset(DatasetEntry(
    "sample-calibrated", "satsr.datasets.sample:load_sample_calibrated",
    "SYNTHETIC PROBA-V-style scenes from sensor models calibrated on the real PROBA-V scenes",
    synthetic=True, default_split="test"))
register_dataset(DatasetEntry(
    "sample-chips", "satsr.datasets.sample:load_sample_chips",
    "SYNTHETIC Landsat/Sentinel-2-style single-frame chips generated by satsr's simulator",
    synthetic=True, default_split="test"))
register_dataset(DatasetEntry(
    "probav", "satsr.datasets.probav:load_probav",
    "ESA Kelvins PROBA-V super-resolution challenge (real, 300 m LR / 100 m HR)",
    download="satsr.datasets.probav:download_probav",
    prepare="satsr.datasets.probav:prepare_to",
    present="satsr.datasets.probav:is_present"))


def list_datasets() -> list[str]:
    """Names accepted by :func:`open_dataset` besides paths."""
    return DATASETS.names()


def _is_zarr_store(path: Path) -> bool:
    return (path / "zarr.json").exists() or (path / ".zgroup").exists()


def load_datasets(
    name_or_path: str | os.PathLike[str],
    *,
    split: str | None = None,
    band: str | None = None,
    root: str | os.PathLike[str] | None = None,
    dask: bool = True,
) -> list[xr.Dataset]:
    """Open a named dataset or a path as a list of sample-schema datasets (one per band group).

    ``dask=False`` opens stores without dask (see :func:`satsr.schema.open_dataset`): the
    fastest way to load whole datasets into memory, as training does.
    """
    key = str(name_or_path)
    if key in DATASETS:
        return DATASETS.get(key).load(root=root, split=split, band=band, dask=dask)
    path = Path(key).expanduser()
    if not path.exists():
        raise DatasetNotFoundError(
            f"dataset {key!r} is neither a known name ({', '.join(list_datasets())}) nor an "
            f"existing path; check the spelling or create it first")
    if _is_zarr_store(path):
        ds = schema.select(schema.open_dataset(path, dask=dask), split=split, band=band)
        return [ds]
    stores = sorted(p for p in path.glob("*.zarr") if _is_zarr_store(p))
    if stores:
        out = []
        for store in stores:
            ds = schema.open_dataset(store, dask=dask)
            if band is not None and band not in [str(b) for b in ds["band"].values]:
                continue
            out.append(schema.select(ds, split=split, band=band))
        if not out:
            raise DatasetNotFoundError(f"no store under {path} has band {band!r}")
        return out
    from satsr.datasets.probav import is_probav_root

    if (path / "SYNTHETIC.txt").is_file() and (path / "splits.json").is_file():  # keep labels
        return DATASETS.get("sample").load(root=path, split=split, band=band, dask=dask)
    if is_probav_root(path):
        return DATASETS.get("probav").load(root=path, split=split, band=band, dask=dask)
    raise DatasetNotFoundError(
        f"{path} is not a satsr dataset: expected a Zarr store in the sample schema, a folder "
        f"of such stores, or a PROBA-V folder with train/ or test/ inside")


def open_dataset(
    name_or_path: str | os.PathLike[str],
    *,
    split: str | None = None,
    band: str | None = None,
    root: str | os.PathLike[str] | None = None,
) -> xr.Dataset:
    """Open exactly one sample-schema dataset (pass ``band`` for multi-track sets like PROBA-V)."""
    found = load_datasets(name_or_path, split=split, band=band, root=root)
    if len(found) > 1:
        bands = [str(ds["band"].values[0]) for ds in found]
        raise DatasetNotFoundError(f"{name_or_path!s} has one store per band {bands}; pass "
                                   "band=... (--band) to pick one")
    return found[0]


__all__ = [
    "DATASETS",
    "DatasetEntry",
    "data_home",
    "dataset_entry",
    "list_datasets",
    "load_datasets",
    "open_dataset",
    "register_dataset",
    "unregister_dataset",
]
