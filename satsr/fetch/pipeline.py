"""The fetch flow: AOI → plan → search → pair → tiles (:mod:`satsr.fetch.tile`) → store.

Public API (stable; the ``satsr fetch`` command and the Earth Engine tests use it)::

    from satsr.fetch.pipeline import FetchConfig, fetch
    result = fetch(FetchConfig(aoi="datasets/aoi/unalakleet.geojson", start=date(2023, 6, 1),
                               end=date(2023, 10, 31), source="local",
                               source_options={"root": "my/folder"}, out=Path("out")))
    result.store          # Path to OUT/chips.zarr, readable by satsr.datasets.open_dataset

Everything the user can get wrong (AOI, dates, options, credentials, scheduler, an empty
search, an AOI too large to plan) is checked before anything is created under ``out``. Tiles
are independent dask tasks; each is written atomically and skipped when a rerun finds it done
(see :mod:`satsr.fetch.store`). What happens inside a tile — read inputs → choose frames → cut
chips → co-register → to dataset — is :mod:`satsr.fetch.tile`.
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

from satsr._checks import check_choice
from satsr._lock import output_lock
from satsr._scheduler import close, connect, local_client
from satsr.errors import ConfigError, SatsrError
from satsr.fetch import coregister as coreg
from satsr.fetch.aoi import AOI, load_aoi, project
from satsr.fetch.checks import check_fetch_options
from satsr.fetch.chips import SplitSpec
from satsr.fetch.config import COREG_MODES, FetchConfig
from satsr.fetch.grid import ChipSpec, Tile, TooManyChips, chips_covering, group_tiles
from satsr.fetch.pairing import PairGroup, candidate_pairs
from satsr.fetch.regrid import native_window, warp
from satsr.fetch.sensors import COMMON_BANDS, read_bands
from satsr.fetch.sources import get_source
from satsr.fetch.sources.base import Source
from satsr.fetch.store import (
    FOOTPRINTS_NAME,
    PROVENANCE_NAME,
    STORE_NAME,
    WORK_NAME,
    TileStore,
    assemble,
    check_outputs,
    write_json_atomic,
)
from satsr.fetch.tile import process_tile
from satsr.fetch.types import Acquisition
from satsr.schema import SPLITS

log = logging.getLogger(__name__)

#: most tiles one fetch plans (and most chips: the tile limit times tile_chips², capped): the
#: plan, the per-tile pairing and the work list grow with them, so a continent-sized AOI is
#: refused in a second instead of planning for minutes at gigabytes of memory
MAX_TILES = 5_000
MAX_CHIPS = 200_000


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
    check_fetch_options(cfg)  # numbers, ranges and --out; the rest below
    if cfg.end < cfg.start:
        raise ConfigError(f"--end {cfg.end} is before --start {cfg.start}; swap them")
    bad = [b for b in cfg.bands if b not in COMMON_BANDS]
    if bad or not cfg.bands:
        raise ConfigError(f"unknown band(s) {bad}; --bands takes a comma list of {list(COMMON_BANDS)}")
    check_choice("--coregister", cfg.coregister, COREG_MODES)
    if cfg.coreg_margin < 3 or cfg.max_shift > cfg.coreg_margin - 2:
        raise ConfigError(f"co-registration margin {cfg.coreg_margin} px must be >= 3 and >= "
                          f"--max-shift + 2 ({cfg.max_shift} + 2)")
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


def _connect(cfg: FetchConfig) -> Any:
    """A dask.distributed Client: the given scheduler or an in-process cluster."""
    if cfg.scheduler:
        return connect(cfg.scheduler)
    return local_client(cfg.workers or 2)


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


def plan_tiles(aoi: AOI, spec: ChipSpec, cfg: FetchConfig) -> tuple[list[Tile], int]:
    """The tiles of chips covering the AOI and the number of chips, refused (ConfigError, one
    line, nothing requested) beyond :data:`MAX_TILES` tiles or :data:`MAX_CHIPS` chips."""
    per_tile_m2 = (spec.stride_m * cfg.tile_chips) ** 2
    limit = min(MAX_CHIPS, MAX_TILES * cfg.tile_chips ** 2)
    estimate = aoi.area_km2 * 1e6 / per_tile_m2  # tiles; chips = tiles * tile_chips²
    if estimate > MAX_TILES or estimate * cfg.tile_chips ** 2 > limit:
        raise ConfigError(_too_large(aoi, cfg, f"~{estimate:,.0f} tiles", per_tile_m2))
    try:
        chips = chips_covering(aoi.to_utm(), aoi.utm_crs, spec, limit=limit)
    except TooManyChips:
        raise ConfigError(_too_large(aoi, cfg, f"more than {limit:,} chips", per_tile_m2)) from None
    tiles = group_tiles(chips, cfg.tile_chips, spec, margin=cfg.coreg_margin)
    if len(tiles) > MAX_TILES:
        raise ConfigError(_too_large(aoi, cfg, f"{len(tiles):,} tiles", per_tile_m2))
    return tiles, len(chips)


def _too_large(aoi: AOI, cfg: FetchConfig, count: str, per_tile_m2: float) -> str:
    part_km2 = min(MAX_TILES * per_tile_m2, MAX_CHIPS * per_tile_m2 / cfg.tile_chips ** 2) / 1e6
    return (f"AOI {aoi.name} ({aoi.area_km2:,.0f} km²) needs {count} of {cfg.tile_chips}x"
            f"{cfg.tile_chips} chips of {cfg.chip} px; one fetch plans at most {MAX_TILES:,} "
            f"tiles and {MAX_CHIPS:,} chips: split the AOI into parts under ~{part_km2:,.0f} km² "
            "(or raise --tile-chips)")


def fetch(cfg: FetchConfig, *, on_tile: Callable[[str], None] | None = None) -> FetchResult:
    """Run the whole flow for ``cfg`` (see module docstring); ``on_tile`` is called with each
    finished tile id (tests use it to interrupt runs)."""
    aoi, spec, split = _validate(cfg)
    tiles, n_chips = plan_tiles(aoi, spec, cfg)
    source = get_source(cfg.source, **dict(cfg.source_options))
    client = _connect(cfg) if (cfg.scheduler and not cfg.dry_run) else None
    try:
        hr_acqs, lr_acqs, groups = _search(source, aoi, cfg)
        plan = _plan(aoi, tiles, groups, cfg, hr_acqs, lr_acqs)
        result = FetchResult(cfg.out, None, aoi, hr_acqs, lr_acqs, groups, len(tiles), n_chips,
                             plan=plan)
        if not cfg.dry_run:  # one writer per --out: a second fetch stops with one line
            with output_lock(cfg.out):
                _build(cfg, result, tiles, split, source, client, on_tile)
        return result
    finally:
        if client is not None:
            close(client)


def _search(source: Source, aoi: AOI, cfg: FetchConfig
            ) -> tuple[list[Acquisition], list[Acquisition], list[PairGroup]]:
    """Sentinel-2 acquisitions in the dates, Landsat ones within ±pair_days of them, and their
    pairing; one line (SatsrError) when any of the three is empty or a band is missing."""
    from satsr.progress import make_progress

    lr_start = date.fromordinal(cfg.start.toordinal() - math.ceil(cfg.pair_days))
    lr_end = date.fromordinal(cfg.end.toordinal() + math.ceil(cfg.pair_days))
    with make_progress(disable=not cfg.progress) as progress:
        task = progress.add_task("search", total=2, status=cfg.source)
        hr_acqs = source.search(aoi.geometry, cfg.start, cfg.end, "sentinel2",
                                max_cloud=cfg.max_cloud)
        progress.update(task, advance=1, status=f"{len(hr_acqs)} Sentinel-2")
        lr_acqs = source.search(aoi.geometry, lr_start, lr_end, "landsat", max_cloud=cfg.max_cloud)
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
    return hr_acqs, lr_acqs, groups


def _parameters(cfg: FetchConfig) -> dict[str, Any]:
    """The options that decide the chips (provenance ``parameters``, part of the fingerprint)."""
    params = {k: v for k, v in asdict(cfg).items()
              if k not in ("out", "progress", "scheduler", "workers", "dry_run", "aoi")}
    # connection details (endpoint, login) do not decide the chips (the acquisition ids in
    # the pairs do), differ between machines, and a key path or credentials object does not
    # belong in the provenance (nor, as an object address, in the resume fingerprint)
    params["source_options"] = {k: v for k, v in cfg.source_options.items()
                                if k not in ("credentials", "url")}
    return params


def _build(cfg: FetchConfig, result: FetchResult, tiles: list[Tile], split: SplitSpec,
           source: Source, client: Any, on_tile: Callable[[str], None] | None) -> None:
    """Write the chips of ``result``'s plan under ``cfg.out`` (or reuse a finished identical
    run, or resume an unfinished one); fills ``result.store``, counts and splits."""
    from satsr import __version__

    aoi = result.aoi
    if cfg.name is None:
        cfg.name = aoi.name
    params = _parameters(cfg)
    provenance: dict[str, Any] = {
        "satsr_version": __version__, "source": cfg.source, "aoi": aoi.name,
        "aoi_wkt": aoi.geometry.wkt, "crs": aoi.utm_crs, "parameters": params,
        "grids": "HR 10 m edges on multiples of 10 m; LR 30 m nested x3; Landsat resampled "
                 "by cubic convolution (rasterio reproject Resampling.cubic)",
        "pairs": result.plan["pairs"],
    }
    fingerprint = _fingerprint(params, provenance["pairs"], aoi)
    check_outputs(cfg.out)  # never replace or delete files satsr did not write
    if _reuse_finished(cfg, fingerprint, result):
        return
    marker = cfg.out / WORK_NAME / "fingerprint.json"
    if marker.exists() and json.loads(marker.read_text(encoding="utf-8")) != fingerprint:
        raise ConfigError(f"{cfg.out} holds an unfinished run with other parameters or "
                          "acquisitions; rerun with those, choose another --out or delete it")
    cfg.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(marker, fingerprint)
    provenance["fingerprint"] = fingerprint
    store = TileStore(cfg.out)
    todo = [t for t in tiles if not store.done(t.id)]
    result.tiles_skipped = len(tiles) - len(todo)
    _run_tiles(todo, result.pairs, source, cfg, split, store, client, on_tile)
    chip_recs = [c for t in tiles for c in store.record(t.id)["chips"]]
    if not chip_recs:
        raise SatsrError(f"no chip over {aoi.name} has >= {cfg.min_valid:.0%} clear pixels in both "
                         "images; lower --min-valid, raise --pair-days or pick other dates")
    provenance["coregistration"] = _coregistration_summary(chip_recs, cfg)
    provenance["chips"] = chip_recs
    provenance["sensors"] = _sensor_info(result.hr_acquisitions[:1] + result.lr_acquisitions[:1],
                                         cfg)
    _write_outputs(cfg, store, tiles, provenance, aoi.utm_crs)
    result.store, result.n_scenes = cfg.out / STORE_NAME, len(chip_recs)
    result.split_counts = _split_counts(chip_recs)


def _reuse_finished(cfg: FetchConfig, fingerprint: str, result: FetchResult) -> bool:
    """True (``result`` filled from it) when ``cfg.out`` holds the finished store of this very
    run; a finished store of another run is refused."""
    final = cfg.out / STORE_NAME
    if not (final.exists() and (cfg.out / PROVENANCE_NAME).exists()):
        return False
    done = json.loads((cfg.out / PROVENANCE_NAME).read_text(encoding="utf-8"))
    if done.get("fingerprint") != fingerprint:
        raise ConfigError(f"{cfg.out} already holds a chip dataset made with other "
                          "parameters or acquisitions; choose another --out or delete it")
    result.store, result.tiles_skipped = final, result.n_tiles
    result.n_scenes = len(done.get("chips", []))
    result.split_counts = _split_counts(done.get("chips", []))
    return True


def _coregistration_summary(chip_recs: list[dict[str, Any]], cfg: FetchConfig) -> dict[str, Any]:
    """Mode, limit, status counts and the median / 95th percentile accepted shift (LR px)."""
    shifts = np.array([s for c in chip_recs for s, st in zip(c["shift_lr_px"], c["coreg_status"],
                                                             strict=True)
                       if st == coreg.STATUS_OK], dtype=np.float64).reshape(-1, 2)
    mags = np.hypot(shifts[:, 0], shifts[:, 1]) if len(shifts) else np.zeros(0)
    statuses = [st for c in chip_recs for st in c["coreg_status"] if st]
    return {
        "mode": cfg.coregister, "max_shift_lr_px": cfg.max_shift,
        "status_counts": {s: statuses.count(s) for s in sorted(set(statuses))},
        "shift_median_lr_px": float(np.median(mags)) if len(mags) else None,
        "shift_p95_lr_px": float(np.percentile(mags, 95)) if len(mags) else None,
    }


def _write_outputs(cfg: FetchConfig, store: TileStore, tiles: list[Tile],
                   provenance: dict[str, Any], crs: str) -> None:
    """The assembled store, the footprints and the provenance, each atomically; then the work
    folder goes."""
    from satsr.progress import make_progress

    chip_recs = provenance["chips"]
    with make_progress(disable=not cfg.progress) as progress:
        task = progress.add_task("assemble", total=3, status=f"{len(chip_recs)} chips")
        assemble(store, [t.id for t in tiles],
                 {k: v for k, v in provenance.items() if k != "chips"})
        progress.advance(task)
        _write_footprints(cfg.out / FOOTPRINTS_NAME, chip_recs, crs)
        progress.advance(task)
        write_json_atomic(cfg.out / PROVENANCE_NAME, provenance)
        progress.advance(task)
    shutil.rmtree(cfg.out / WORK_NAME, ignore_errors=True)


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
            close(client)


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


__all__ = ["COREG_MODES", "MAX_CHIPS", "MAX_TILES", "FetchConfig", "FetchResult",
           "fetch", "native_window", "plan_tiles", "process_tile", "warp"]
