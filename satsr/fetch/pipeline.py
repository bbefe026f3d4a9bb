"""The fetch flow: AOI → search → pair → per-tile read/prepare/resample/co-register → chips → store.

Public API (stable; the ``satsr fetch`` command and the Earth Engine tests use it)::

    from satsr.fetch.pipeline import FetchConfig, fetch
    result = fetch(FetchConfig(aoi="datasets/aoi/unalakleet.geojson", start=date(2023, 6, 1),
                               end=date(2023, 10, 31), source="local",
                               source_options={"root": "my/folder"}, out=Path("out")))
    result.store          # Path to OUT/chips.zarr, readable by satsr.datasets.open_dataset

Everything the user can get wrong (AOI, dates, options, credentials, scheduler, an empty
search) is checked before anything is created under ``out``. Tiles are independent dask tasks;
each is written atomically and skipped when a rerun finds it done (see :mod:`satsr.fetch.store`).

Per tile and Sentinel-2 acquisition: the S2 bands are read on their native grid, scaled and
masked (:mod:`satsr.fetch.sensors`) and put on the tile's 10 m HR grid (a pixel copy when the
grids share the zone, cubic convolution otherwise); each Landsat candidate within ±pair_days is
read, scaled, masked and resampled onto the nested 30 m LR grid by cubic convolution; candidates
are ranked by clear fraction over the tile and the best ``frames`` kept; chips below
``min_valid`` are dropped; every (chip, frame) is co-registered against the HR chip degraded to
30 m (band mean, batched, :mod:`satsr.fetch.coregister`) and the shift applied or recorded.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from satsr.errors import ConfigError, SatsrError
from satsr.fetch import coregister as coreg
from satsr.fetch._quiet import quiet_raster_calls
from satsr.fetch.aoi import AOI, DEFAULT_MAX_AREA_KM2, load_aoi, project
from satsr.fetch.chips import SplitSpec, chip_split, valid_fraction
from satsr.fetch.grid import ChipSpec, Tile, chips_covering, group_tiles, offset_in
from satsr.fetch.pairing import PairGroup, candidate_pairs, rank_frames
from satsr.fetch.sensors import COMMON_BANDS, prepare, read_bands
from satsr.fetch.sources import get_source
from satsr.fetch.sources.base import Source
from satsr.fetch.store import (
    FOOTPRINTS_NAME,
    PROVENANCE_NAME,
    STORE_NAME,
    WORK_NAME,
    TileStore,
    assemble,
    write_json_atomic,
)
from satsr.fetch.types import Acquisition, Grid
from satsr.schema import SPLITS

log = logging.getLogger(__name__)

COREG_MODES = ("apply", "record", "off")


@dataclass
class FetchConfig:
    """Everything ``fetch`` needs. Dates are inclusive UTC days; sizes in LR (30 m) pixels."""

    start: date
    end: date
    out: Path
    aoi: str | Path | dict[str, Any] | None = None
    bbox: str | None = None
    source: str = "ee"
    source_options: dict[str, Any] = field(default_factory=dict)
    bands: tuple[str, ...] = COMMON_BANDS
    max_cloud: float = 100.0
    pair_days: float = 5.0
    frames: int = 1
    chip: int = 64
    overlap: int = 0
    harmonize: bool = False
    min_valid: float = 0.5
    coregister: str = "apply"
    max_shift: float = 3.0
    coreg_margin: int = 6
    tile_chips: int = 4
    split_block: int = 8
    split_buffer: int = 1
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    max_area_km2: float = DEFAULT_MAX_AREA_KM2
    workers: int | None = None
    scheduler: str | None = None
    dry_run: bool = False
    name: str | None = None
    progress: bool = True


@dataclass
class FetchResult:
    """What ``fetch`` did. ``store`` is None for dry runs."""

    out: Path
    store: Path | None
    aoi: AOI
    hr_acquisitions: list[Acquisition]
    lr_acquisitions: list[Acquisition]
    pairs: list[PairGroup]
    n_tiles: int
    n_chips_planned: int
    tiles_skipped: int = 0
    n_scenes: int = 0
    plan: dict[str, Any] = field(default_factory=dict)
    split_counts: dict[str, int] = field(default_factory=dict)  # chips per train/val/test


def _split_counts(chip_recs: Sequence[dict[str, Any]]) -> dict[str, int]:
    return {name: sum(c["split"] == name for c in chip_recs) for name in SPLITS}


# ----------------------------------------------------------------------------- validation

def _validate(cfg: FetchConfig) -> tuple[AOI, ChipSpec, SplitSpec]:
    if cfg.end < cfg.start:
        raise ConfigError(f"--end {cfg.end} is before --start {cfg.start}; swap them")
    bad = [b for b in cfg.bands if b not in COMMON_BANDS]
    if bad or not cfg.bands:
        raise ConfigError(f"unknown band(s) {bad}; --bands takes a comma list of {list(COMMON_BANDS)}")
    if cfg.coregister not in COREG_MODES:
        raise ConfigError(f"--coregister {cfg.coregister!r}: choose one of {COREG_MODES}")
    if not 0 <= cfg.max_cloud <= 100:
        raise ConfigError(f"--max-cloud {cfg.max_cloud} must be within 0..100 (%)")
    if cfg.pair_days < 0:
        raise ConfigError(f"--pair-days {cfg.pair_days} must be >= 0")
    if cfg.frames < 1:
        raise ConfigError(f"--frames {cfg.frames} must be >= 1")
    if not 0 <= cfg.min_valid <= 1:
        raise ConfigError(f"--min-valid {cfg.min_valid} must be within 0..1")
    if cfg.coreg_margin < 3 or cfg.max_shift > cfg.coreg_margin - 2:
        raise ConfigError(f"co-registration margin {cfg.coreg_margin} px must be >= 3 and >= "
                          f"--max-shift + 2 ({cfg.max_shift} + 2)")
    if cfg.workers is not None and cfg.workers < 1:
        raise ConfigError(f"--workers {cfg.workers} must be >= 1")
    try:
        spec = ChipSpec(lr_size=cfg.chip, overlap=cfg.overlap)
        split = SplitSpec(block=cfg.split_block, buffer=cfg.split_buffer,
                          fractions=tuple(cfg.split_fractions))  # type: ignore[arg-type]
    except ValueError as exc:
        raise ConfigError(f"{exc}; fix --chip/--overlap/split options") from None
    aoi = load_aoi(cfg.aoi, bbox=cfg.bbox, max_area_km2=cfg.max_area_km2, name=cfg.name)
    if cfg.out.exists() and not cfg.out.is_dir():
        raise ConfigError(f"--out {cfg.out} exists and is not a folder; choose another path")
    return aoi, spec, split


def _probe(address: str, timeout: float = 2.0) -> None:
    """Fail fast (one line) when a tcp:// scheduler address does not accept connections."""
    import socket
    from urllib.parse import urlparse

    parsed = urlparse(address if "://" in address else f"tcp://{address}")
    if parsed.scheme not in ("tcp", "tls") or not parsed.hostname:
        return
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 8786), timeout=timeout):
            pass
    except OSError as exc:
        raise SatsrError(f"cannot reach the dask scheduler at {address} ({exc.strerror or exc}); "
                         "check the address or drop --scheduler to run locally") from None


def _connect(cfg: FetchConfig) -> Any:
    """A dask.distributed Client: the given scheduler (5 s timeout) or an in-process LocalCluster."""
    from distributed import Client, LocalCluster

    if cfg.scheduler:
        _probe(cfg.scheduler)
        try:
            return Client(cfg.scheduler, timeout="5s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise SatsrError(f"cannot reach the dask scheduler at {cfg.scheduler} ({type(exc).__name__}); "
                             "check the address or drop --scheduler to run locally") from None
    cluster = LocalCluster(n_workers=1, threads_per_worker=cfg.workers or 2, processes=False,
                           dashboard_address=":0")
    return Client(cluster, set_as_default=False)


# ----------------------------------------------------------------------------- resampling

def native_window(acq: Acquisition, target: Grid, pad: int = 3) -> Grid | None:
    """The window of ``acq``'s native grid covering ``target`` plus ``pad`` native pixels, clipped
    to the asset; None when they do not overlap."""
    from rasterio.warp import transform_bounds

    native = acq.grid
    bounds = target.bounds if target.crs == native.crs else transform_bounds(
        target.crs, native.crs, *target.bounds, densify_pts=21)
    r, c, h, w = native.window_of(*bounds)
    r, c, h, w = native.clip_window(r - pad, c - pad, h + 2 * pad, w + 2 * pad)
    if h == 0 or w == 0:
        return None
    return native.window(r, c, h, w)


def _aligned_offset(src: Grid, dst: Grid) -> tuple[int, int] | None:
    if src.crs != dst.crs or src.resolution != dst.resolution:
        return None
    try:
        return offset_in(src, dst)
    except ValueError:
        return None


def warp(data: np.ndarray, clear: np.ndarray, src: Grid, dst: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Put reflectance (C, h, w) (NaN = invalid) and its clear mask from ``src`` onto ``dst``.

    Aligned grids (same CRS, pixel size and phase): an exact pixel copy. Otherwise cubic
    convolution for reflectance, and a conservative mask: a target pixel is clear only if every
    source pixel within one pixel of its footprint is clear and the cubic value is finite.
    """
    from scipy import ndimage

    c = data.shape[0]
    off = _aligned_offset(src, dst)
    if off is not None:
        out = np.full((c, dst.height, dst.width), np.nan, dtype=np.float32)
        om = np.zeros((dst.height, dst.width), dtype=bool)
        r0, c0 = -off[0], -off[1]  # dst (0,0) in src coords is (off) → src index of dst pixel
        rs0, cs0 = max(0, off[0]), max(0, off[1])
        rs1, cs1 = min(src.height, off[0] + dst.height), min(src.width, off[1] + dst.width)
        if rs1 > rs0 and cs1 > cs0:
            out[:, rs0 + r0:rs1 + r0, cs0 + c0:cs1 + c0] = data[:, rs0:rs1, cs0:cs1]
            om[rs0 + r0:rs1 + r0, cs0 + c0:cs1 + c0] = clear[rs0:rs1, cs0:cs1]
        return out, om & np.isfinite(out).all(axis=0)
    out = np.full((c, dst.height, dst.width), np.nan, dtype=np.float32)
    eroded = ndimage.binary_erosion(clear, structure=np.ones((3, 3), bool), border_value=0)
    frac = np.zeros((dst.height, dst.width), dtype=np.float32)
    with quiet_raster_calls():
        _reproject_both(data, eroded, out, frac, src, dst)
    return out, (frac > 0.999) & np.isfinite(out).all(axis=0)


def _reproject_both(data: np.ndarray, eroded: np.ndarray, out: np.ndarray, frac: np.ndarray,
                    src: Grid, dst: Grid) -> None:
    from rasterio.warp import Resampling, reproject

    reproject(np.ascontiguousarray(data, dtype=np.float32), out, src_transform=src.to_affine(),
              src_crs=src.crs, src_nodata=np.nan, dst_transform=dst.to_affine(), dst_crs=dst.crs,
              dst_nodata=np.nan, resampling=Resampling.cubic)
    reproject(eroded.astype(np.float32), frac, src_transform=src.to_affine(), src_crs=src.crs,
              dst_transform=dst.to_affine(), dst_crs=dst.crs, resampling=Resampling.average,
              src_nodata=None, dst_nodata=0.0)


def _read_prepared(source: Source, acq: Acquisition, target: Grid, harmonize: bool,
                   band_idx: list[int]) -> tuple[np.ndarray, np.ndarray] | None:
    win = native_window(acq, target)
    if win is None:
        return None
    names = read_bands(acq, harmonize=harmonize and acq.collection == "sentinel2")
    raw = np.asarray(source.read(acq, names, win))
    prep = prepare(acq, raw, names, harmonize=harmonize and acq.collection == "sentinel2")
    refl, clear = warp(prep.reflectance, prep.clear, win, target)
    return refl[band_idx], clear


# ----------------------------------------------------------------------------- one tile

def process_tile(tile: Tile, groups: Sequence[PairGroup], source: Source, cfg: FetchConfig,
                 split: SplitSpec, store: TileStore) -> dict[str, Any]:
    """Build, co-register and write all chips of one tile; returns (and stores) its record."""
    from satsr import schema

    band_idx = [COMMON_BANDS.index(b) for b in cfg.bands]
    scale, n = 3, cfg.chip
    margin = tile.margin
    lr_cache: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}
    core = (slice(margin, tile.lr.height - margin), slice(margin, tile.lr.width - margin))
    out: dict[str, list[Any]] = {k: [] for k in (
        "lr", "lr_mask", "frame_valid", "hr", "hr_mask", "scene", "split", "lr_time", "hr_time",
        "hr_transform", "lr_transform", "crs", "lr_id", "hr_id", "dt", "dy", "dx", "status")}
    chip_records: list[dict[str, Any]] = []
    for group in groups:
        hr_data = _read_prepared(source, group.hr, tile.hr, cfg.harmonize, band_idx)
        if hr_data is None or not hr_data[1].any():
            continue
        hr_refl, hr_clear = hr_data
        frames_all = []
        for cand in group.candidates:
            if cand.lr.id not in lr_cache:
                lr_cache[cand.lr.id] = _read_prepared(source, cand.lr, tile.lr, False, band_idx)
            frames_all.append(lr_cache[cand.lr.id])
        fracs = [0.0 if f is None else float(f[1][core].mean()) for f in frames_all]
        ranked = rank_frames(group.candidates, fracs, keep=cfg.frames)
        if not ranked:
            continue
        chosen = [(cand, lr_cache[cand.lr.id]) for cand, _ in ranked]
        items = []  # (chip, split, frames[(cand, lr_pad, lr_mask_pad)])
        for chip in tile.chips:
            sp = chip_split(chip.i, chip.j, split)
            if sp is None:
                continue
            hr_r, hr_c = offset_in(tile.hr, chip.hr)
            hr_c_refl = hr_refl[:, hr_r:hr_r + n * scale, hr_c:hr_c + n * scale]
            hr_c_mask = hr_clear[hr_r:hr_r + n * scale, hr_c:hr_c + n * scale]
            lr_r, lr_c = offset_in(tile.lr, chip.lr)
            m = cfg.coreg_margin
            fr = []
            for cand, data in chosen:
                assert data is not None
                pad = (slice(lr_r - m, lr_r + n + m), slice(lr_c - m, lr_c + n + m))
                fr.append((cand, data[0][:, pad[0], pad[1]], data[1][pad]))
            vf = valid_fraction(hr_c_mask, fr[0][2][m:m + n, m:m + n], scale)
            if vf < cfg.min_valid:
                continue
            items.append((chip, sp, hr_c_refl, hr_c_mask, fr, vf))
        if not items:
            continue
        # batched co-registration over every (chip, frame) of this HR acquisition
        m = cfg.coreg_margin
        refs, ref_masks, movs, mov_masks, hr_refs, hr_masks = [], [], [], [], [], []
        for _, _, hrr, hrm, fr, _ in items:
            hr_mean = hrr.mean(axis=0)  # NaN where any band is invalid
            ref = coreg.degrade(hr_mean, scale)
            rmask = coreg.degrade(hrm.astype(np.float64), scale) > 0.999
            for _, lrp, lrm in fr:
                refs.append(ref)
                ref_masks.append(rmask & np.isfinite(ref))
                hr_refs.append(hr_mean)
                hr_masks.append(hrm & np.isfinite(hr_mean))
                movs.append(lrp.mean(axis=0))
                mov_masks.append(lrm & np.isfinite(lrp).all(axis=0))
        if cfg.coregister == "off":
            k = len(refs)
            res = coreg.ShiftResult(np.zeros(k), np.zeros(k), np.full(k, np.nan), np.full(k, np.nan),
                                    np.full(k, np.nan), np.full(k, np.nan),
                                    np.full(k, "not_estimated", dtype=object))
        else:
            res = coreg.estimate_shifts(np.stack(refs), np.stack(movs), np.stack(ref_masks),
                                        np.stack(mov_masks), margin=m, max_shift=cfg.max_shift,
                                        ref_hr=np.stack(hr_refs), ref_hr_mask=np.stack(hr_masks))
        apply = cfg.coregister == "apply"
        dy = np.where(apply & res.accepted, res.dy, 0.0)
        dx = np.where(apply & res.accepted, res.dx, 0.0)
        lr_pads = np.stack([lrp for *_, fr, _ in items for _, lrp, _ in fr])
        lr_mpads = np.stack([lrm for *_, fr, _ in items for _, _, lrm in fr])
        shifted, shifted_mask = coreg.apply_shift(lr_pads, lr_mpads, dy, dx, m)
        k = 0
        for chip, sp, hrr, hrm, fr, vf in items:
            lr_f = np.zeros((cfg.frames, len(band_idx), n, n), np.float32)
            lm_f = np.zeros((cfg.frames, n, n), bool)
            fv = np.zeros(cfg.frames, bool)
            lt = np.full(cfg.frames, np.datetime64("NaT"), dtype="datetime64[ns]")
            ids, dts, sdy, sdx, sts = [""] * cfg.frames, [np.nan] * cfg.frames, \
                [np.nan] * cfg.frames, [np.nan] * cfg.frames, [""] * cfg.frames
            for f, (cand, _, _) in enumerate(fr):
                st = str(res.status[k])
                sts[f], ids[f], dts[f] = st, cand.lr.id, cand.dt_days
                sdy[f], sdx[f] = float(res.dy[k]), float(res.dx[k])
                if st != coreg.STATUS_TOO_LARGE:
                    lr_f[f] = np.nan_to_num(shifted[k])
                    lm_f[f] = shifted_mask[k]
                    fv[f] = True
                    lt[f] = np.datetime64(cand.lr.time.replace(tzinfo=None), "ns")
                k += 1
            if not fv.any():
                continue
            sid = f"{group.hr.id.replace('/', '_')}__{chip.id}"
            out["lr"].append(lr_f)
            out["lr_mask"].append(lm_f)
            out["frame_valid"].append(fv)
            out["hr"].append(np.nan_to_num(hrr).astype(np.float32))
            out["hr_mask"].append(hrm)
            out["scene"].append(sid)
            out["split"].append(sp)
            out["lr_time"].append(lt)
            out["hr_time"].append(np.datetime64(group.hr.time.replace(tzinfo=None), "ns"))
            out["hr_transform"].append(np.array(chip.hr.transform, np.float64))
            out["lr_transform"].append(np.array(chip.lr.transform, np.float64))
            out["crs"].append(chip.hr.crs)
            out["lr_id"].append(ids)
            out["hr_id"].append(group.hr.id)
            out["dt"].append(dts)
            out["dy"].append(sdy)
            out["dx"].append(sdx)
            out["status"].append(sts)
            chip_records.append({"scene": sid, "split": sp, "valid_fraction": round(vf, 6),
                                 "hr_id": group.hr.id, "lr_ids": ids, "dt_days": dts,
                                 "shift_lr_px": [[a, b] for a, b in zip(sdy, sdx, strict=True)],
                                 "coreg_status": sts, "applied": apply,
                                 "footprint_utm": list(chip.hr.bounds)})
    record: dict[str, Any] = {"tile": tile.id, "n_chips": len(out["scene"]), "chips": chip_records}
    ds = None
    if out["scene"]:
        obj = np.empty((len(out["scene"]), cfg.frames), dtype=object)
        obj[:] = out["lr_id"]
        sts_arr = np.empty_like(obj)
        sts_arr[:] = out["status"]
        ds = schema.build(
            lr=np.stack(out["lr"]), lr_mask=np.stack(out["lr_mask"]), hr=np.stack(out["hr"]),
            hr_mask=np.stack(out["hr_mask"]), frame_valid=np.stack(out["frame_valid"]),
            scene_ids=out["scene"], bands=list(cfg.bands), split=out["split"], scale=scale,
            dataset=f"chips:{cfg.name or 'aoi'}", value_scale="reflectance", data_range=1.0,
            lr_sensor="landsat", hr_sensor="sentinel2",
            extra_vars={
                "lr_time": (("scene", "frame"), np.stack(out["lr_time"])),
                "hr_time": (("scene",), np.array(out["hr_time"], dtype="datetime64[ns]")),
                "hr_transform": (("scene", "affine"), np.stack(out["hr_transform"])),
                "lr_transform": (("scene", "affine"), np.stack(out["lr_transform"])),
                "dt_days": (("scene", "frame"), np.array(out["dt"], np.float64)),
                "shift_dy": (("scene", "frame"), np.array(out["dy"], np.float64)),
                "shift_dx": (("scene", "frame"), np.array(out["dx"], np.float64)),
            },
            extra_coords={
                "crs": (("scene",), np.array(out["crs"], dtype=object)),
                "hr_id": (("scene",), np.array(out["hr_id"], dtype=object)),
                "lr_id": (("scene", "frame"), obj),
                "coreg_status": (("scene", "frame"), sts_arr),
            })
    store.write(tile.id, ds, record)
    return record


# ----------------------------------------------------------------------------- orchestration

def _tile_groups(tile: Tile, groups: Sequence[PairGroup]) -> list[PairGroup]:
    """Pair groups whose HR footprint meets the tile (LR candidates filtered the same way)."""
    import shapely
    import shapely.geometry

    foot = project(tile.hr.footprint(), tile.hr.crs, "EPSG:4326")
    out = []
    for g in groups:
        if g.hr.footprint and not shapely.geometry.shape(g.hr.footprint).intersects(foot):
            continue
        cands = tuple(c for c in g.candidates
                      if not c.lr.footprint or shapely.geometry.shape(c.lr.footprint).intersects(foot))
        if cands:
            out.append(PairGroup(g.hr, cands))
    return out


def _plan(aoi: AOI, tiles: list[Tile], groups: list[PairGroup], cfg: FetchConfig,
          hr: list[Acquisition], lr: list[Acquisition]) -> dict[str, Any]:
    n_req, n_bytes = 0, 0
    for tile in tiles:
        seen: set[str] = set()
        for g in _tile_groups(tile, groups):
            for acq, grid in [(g.hr, tile.hr)] + [(c.lr, tile.lr) for c in g.candidates]:
                if acq.id in seen and acq.collection == "landsat":
                    continue
                seen.add(acq.id)
                win = native_window(acq, grid)
                if win is None:
                    continue
                nb = len(read_bands(acq, harmonize=cfg.harmonize and acq.collection == "sentinel2"))
                n_req += 1
                n_bytes += win.width * win.height * nb * 2
    return {
        "aoi": aoi.name, "area_km2": round(aoi.area_km2, 3), "crs": aoi.utm_crs,
        "tiles": len(tiles), "chips": sum(len(t.chips) for t in tiles),
        "hr_acquisitions": [{"id": a.id, "time": a.time.isoformat(), "cloud": a.cloud_cover} for a in hr],
        "lr_acquisitions": [{"id": a.id, "time": a.time.isoformat(), "cloud": a.cloud_cover} for a in lr],
        "pairs": [{"hr": g.hr.id, "lr": [[c.lr.id, round(c.dt_days, 3)] for c in g.candidates]}
                  for g in groups],
        "requests": n_req, "request_bytes_estimate": n_bytes,
    }


def fetch(cfg: FetchConfig, *, on_tile: Callable[[str], None] | None = None) -> FetchResult:
    """Run the whole flow for ``cfg`` (see module docstring); ``on_tile`` is called with each
    finished tile id (tests use it to interrupt runs)."""
    from satsr import __version__

    aoi, spec, split = _validate(cfg)
    opts = dict(cfg.source_options)
    source = get_source(cfg.source, **opts)
    client = _connect(cfg) if (cfg.scheduler and not cfg.dry_run) else None
    try:
        from satsr.progress import make_progress

        geom = aoi.geometry
        lr_start = date.fromordinal(cfg.start.toordinal() - math.ceil(cfg.pair_days))
        lr_end = date.fromordinal(cfg.end.toordinal() + math.ceil(cfg.pair_days))
        with make_progress(disable=not cfg.progress) as progress:
            task = progress.add_task("search", total=2, status=cfg.source)
            hr_acqs = source.search(geom, cfg.start, cfg.end, "sentinel2", max_cloud=cfg.max_cloud)
            progress.update(task, advance=1, status=f"{len(hr_acqs)} Sentinel-2")
            lr_acqs = source.search(geom, lr_start, lr_end, "landsat", max_cloud=cfg.max_cloud)
            progress.update(task, advance=1, status=f"{len(hr_acqs)} Sentinel-2, "
                                                    f"{len(lr_acqs)} Landsat")
        if not hr_acqs:
            raise SatsrError(f"no Sentinel-2 acquisitions over {aoi.name} between {cfg.start} and "
                             f"{cfg.end} (max cloud {cfg.max_cloud}%); widen the dates or --max-cloud")
        if not lr_acqs:
            raise SatsrError(f"no Landsat acquisitions over {aoi.name} between {lr_start} and "
                             f"{lr_end} (max cloud {cfg.max_cloud}%); widen the dates or --max-cloud")
        _check_bands(hr_acqs + lr_acqs, cfg)
        groups = candidate_pairs(hr_acqs, lr_acqs, cfg.pair_days)
        if not groups:
            raise SatsrError(f"no Landsat acquisition within ±{cfg.pair_days:g} days of any of the "
                             f"{len(hr_acqs)} Sentinel-2 acquisitions; raise --pair-days")
        chips = chips_covering(aoi.to_utm(), aoi.utm_crs, spec)
        tiles = group_tiles(chips, cfg.tile_chips, spec, margin=cfg.coreg_margin)
        plan = _plan(aoi, tiles, groups, cfg, hr_acqs, lr_acqs)
        result = FetchResult(cfg.out, None, aoi, hr_acqs, lr_acqs, groups, len(tiles), len(chips),
                             plan=plan)
        if cfg.dry_run:
            return result
        if cfg.name is None:
            cfg.name = aoi.name
        store = TileStore(cfg.out)
        final = cfg.out / STORE_NAME
        params = {k: v for k, v in asdict(cfg).items()
                  if k not in ("out", "progress", "scheduler", "workers", "dry_run", "aoi")}
        # connection details (endpoint, login) do not decide the chips (the acquisition ids in
        # the pairs do), differ between machines, and a key path or credentials object does not
        # belong in the provenance (nor, as an object address, in the resume fingerprint)
        params["source_options"] = {k: v for k, v in cfg.source_options.items()
                                    if k not in ("credentials", "url")}
        provenance: dict[str, Any] = {
            "satsr_version": __version__, "source": cfg.source, "aoi": aoi.name,
            "aoi_wkt": aoi.geometry.wkt, "crs": aoi.utm_crs, "parameters": params,
            "grids": "HR 10 m edges on multiples of 10 m; LR 30 m nested x3; Landsat resampled "
                     "by cubic convolution (rasterio reproject Resampling.cubic)",
            "pairs": plan["pairs"],
        }
        fingerprint = _fingerprint(params, provenance["pairs"], aoi)
        if final.exists() and (cfg.out / PROVENANCE_NAME).exists():
            done = json.loads((cfg.out / PROVENANCE_NAME).read_text(encoding="utf-8"))
            if done.get("fingerprint") != fingerprint:
                raise ConfigError(f"{cfg.out} already holds a chip dataset made with other "
                                  "parameters or acquisitions; choose another --out or delete it")
            result.store, result.tiles_skipped = final, len(tiles)
            result.n_scenes = len(done.get("chips", []))
            result.split_counts = _split_counts(done.get("chips", []))
            return result
        marker = cfg.out / WORK_NAME / "fingerprint.json"
        if marker.exists() and json.loads(marker.read_text(encoding="utf-8")) != fingerprint:
            raise ConfigError(f"{cfg.out} holds an unfinished run with other parameters or "
                              "acquisitions; rerun with those, choose another --out or delete it")
        cfg.out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(marker, fingerprint)
        provenance["fingerprint"] = fingerprint
        todo = [t for t in tiles if not store.done(t.id)]
        result.tiles_skipped = len(tiles) - len(todo)
        _run_tiles(todo, groups, source, cfg, split, store, client, on_tile)
        records = [store.record(t.id) for t in tiles]
        n_scenes = sum(r["n_chips"] for r in records)
        if n_scenes == 0:
            raise SatsrError(f"no chip over {aoi.name} has >= {cfg.min_valid:.0%} clear pixels in both "
                             "images; lower --min-valid, raise --pair-days or pick other dates")
        chip_recs = [c for r in records for c in r["chips"]]
        shifts = np.array([s for c in chip_recs for s, st in zip(c["shift_lr_px"], c["coreg_status"],
                                                                 strict=True)
                           if st == coreg.STATUS_OK], dtype=np.float64).reshape(-1, 2)
        mags = np.hypot(shifts[:, 0], shifts[:, 1]) if len(shifts) else np.zeros(0)
        statuses = [st for c in chip_recs for st in c["coreg_status"] if st]
        provenance["coregistration"] = {
            "mode": cfg.coregister, "max_shift_lr_px": cfg.max_shift,
            "status_counts": {s: statuses.count(s) for s in sorted(set(statuses))},
            "shift_median_lr_px": float(np.median(mags)) if len(mags) else None,
            "shift_p95_lr_px": float(np.percentile(mags, 95)) if len(mags) else None,
        }
        provenance["chips"] = chip_recs
        provenance["sensors"] = _sensor_info(hr_acqs[:1] + lr_acqs[:1], cfg)
        with make_progress(disable=not cfg.progress) as progress:
            task = progress.add_task("assemble", total=3, status=f"{n_scenes} chips")
            assemble(store, [t.id for t in tiles],
                     {k: v for k, v in provenance.items() if k != "chips"})
            progress.advance(task)
            _write_footprints(cfg.out / FOOTPRINTS_NAME, chip_recs, aoi.utm_crs)
            progress.advance(task)
            write_json_atomic(cfg.out / PROVENANCE_NAME, provenance)
            progress.advance(task)
        shutil.rmtree(cfg.out / WORK_NAME, ignore_errors=True)
        result.store, result.n_scenes = final, n_scenes
        result.split_counts = _split_counts(chip_recs)
        return result
    finally:
        if client is not None:
            client.close()


def _check_bands(acqs: Sequence[Acquisition], cfg: FetchConfig) -> None:
    """Fail before writing anything when an acquisition lacks a band the run needs."""
    from satsr.fetch.sensors import spectral_bands

    for acq in acqs:
        declared = acq.properties.get("bands")
        if declared is None:
            continue
        need = spectral_bands(acq.collection, harmonize=cfg.harmonize and acq.collection == "sentinel2")
        missing = [b for b in need if b not in declared]
        if missing:
            hint = " (--harmonize needs B8A)" if "B8A" in missing else ""
            raise ConfigError(f"{acq.collection} acquisition {acq.id} has no band(s) {missing}"
                              f"{hint}; it has {list(declared)}")


def _fingerprint(params: dict[str, Any], pairs: Any, aoi: AOI) -> str:
    """A hash of everything that decides the chips (parameters, AOI, paired acquisitions)."""
    import hashlib

    blob = json.dumps({"params": params, "pairs": pairs, "aoi": aoi.geometry.wkt,
                       "crs": aoi.utm_crs}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _sensor_info(acqs: list[Acquisition], cfg: FetchConfig) -> dict[str, Any]:
    from satsr.fetch.sensors import mask_bands, scale_offset, spectral_bands

    info = {}
    for a in acqs:
        s, o, why = scale_offset(a)
        info[a.collection] = {"sensor": a.sensor, "scaling": why, "scale": s, "offset": o,
                              "bands": spectral_bands(a.collection, harmonize=cfg.harmonize and
                                                      a.collection == "sentinel2"),
                              "mask_bands": mask_bands(a),
                              "harmonized": bool(cfg.harmonize and a.collection == "sentinel2")}
    return info


def _run_tiles(todo: list[Tile], groups: list[PairGroup], source: Source, cfg: FetchConfig,
               split: SplitSpec, store: TileStore, client: Any,
               on_tile: Callable[[str], None] | None) -> None:
    from satsr.progress import make_progress

    if not todo:
        return
    own = client is None
    if own:
        client = _connect(cfg)
    try:
        from distributed import as_completed

        futures = [client.submit(process_tile, t, _tile_groups(t, groups), source, cfg, split, store,
                                 key=f"satsr-tile-{cfg.out.name}-{t.id}", pure=False)
                   for t in todo]
        with make_progress(disable=not cfg.progress) as progress:
            task = progress.add_task("tiles", total=len(futures), status="")
            for fut in as_completed(futures, loop=client.loop):
                rec = fut.result()
                progress.update(task, advance=1, status=f"{rec['tile']}: {rec['n_chips']} chips")
                if on_tile is not None:
                    on_tile(rec["tile"])
    finally:
        if own:
            client.close()
            cluster = getattr(client, "cluster", None)
            if cluster is not None:
                cluster.close()


def _write_footprints(path: Path, chip_recs: list[dict[str, Any]], crs: str) -> None:
    import shapely
    import shapely.geometry

    feats = []
    for c in chip_recs:
        geom = project(shapely.box(*c["footprint_utm"]), crs, "EPSG:4326")
        feats.append({"type": "Feature", "geometry": shapely.geometry.mapping(geom),
                      "properties": {"scene": c["scene"], "split": c["split"], "hr_id": c["hr_id"],
                                     "lr_ids": c["lr_ids"], "dt_days": c["dt_days"],
                                     "valid_fraction": c["valid_fraction"]}})
    write_json_atomic(path, {"type": "FeatureCollection", "features": feats})


__all__ = ["COREG_MODES", "FetchConfig", "FetchResult", "fetch", "native_window", "process_tile",
           "warp"]
