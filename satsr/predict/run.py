"""``predict_raster``: a model over a georeferenced raster, tile by tile, resumable.

Order of work: open and check the input and the output path, check the model against the input
(bands, scale, value scale, sensor), scan the input once (frames and fill values, see
:mod:`satsr.predict.frames`), then run the tiles (:mod:`satsr.predict.tiles`) in batches here or
on a dask cluster, writing each tile's core into the work folder (:mod:`satsr.predict.partial`),
and finally stream it into the GeoTIFF. Nothing is written before every check has passed, and
nothing appears at the output path before the whole raster is done.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from satsr import __version__
from satsr._scheduler import connect
from satsr.errors import ConfigError
from satsr.predict import checks
from satsr.predict.compute import run_distributed, run_local
from satsr.predict.frames import FramePlan, fill_invalid, plan_frames, strips
from satsr.predict.model import PredictModel, frames_used, load_model
from satsr.predict.partial import Partial, finish, open_partial
from satsr.predict.raster import RasterInput, open_raster
from satsr.predict.tiles import DEFAULT_TILE, Tile, batches, plan_tiles

log = logging.getLogger(__name__)

#: Halo (LR px) used for a model with a global receptive field when --allow-seams tiles it.
GLOBAL_MODEL_HALO = 32


@dataclass
class RasterOptions:
    """Options of :func:`predict_raster` (``satsr predict`` maps its flags onto these)."""

    tile: int = DEFAULT_TILE
    halo: int | None = None  # default: the model's receptive field
    batch_size: int = 4
    device: str = "cpu"
    threads: int | None = None  # torch threads per forward (default: this process's)
    scheduler: str | None = None
    resume: bool = True
    overwrite: bool = False
    progress: bool = True
    bands: Sequence[str] | None = None
    mask: Path | None = None
    mask_band: int | None = None
    value_scale: str | None = None
    sensor: str | None = None
    scale: int | None = None
    allow_mismatch: bool = False
    allow_seams: bool = False
    cog: bool = False


@dataclass
class RasterResult:
    """What a run did: output path, tile counts, the halo used, seconds spent on tiles."""

    out: Path
    n_tiles: int
    tiles_reused: int
    halo: int
    frames: tuple[int, ...]
    seconds: float
    tags: dict[str, str] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)  # overridden by allow_mismatch


def choose_halo(pm: PredictModel, raster: RasterInput, opts: RasterOptions) -> tuple[int, int]:
    """(tile, halo) for this model and raster; a global-reach model runs untiled when the raster
    fits in one tile, otherwise only with ``allow_seams``."""
    rf = pm.reach
    fits = raster.grid.height <= opts.tile and raster.grid.width <= opts.tile
    if rf is None:
        if fits:
            return opts.tile, 0
        if not opts.allow_seams:
            raise ConfigError(
                f"model {pm.name!r} has a global receptive field (it looks at the whole image), "
                f"so tiles of this {raster.grid.height}x{raster.grid.width} raster would show "
                f"seams; raise --tile to at least {max(raster.grid.height, raster.grid.width)} "
                "or pass --allow-seams")
        halo = GLOBAL_MODEL_HALO if opts.halo is None else opts.halo
        return opts.tile, halo
    halo = rf if opts.halo is None else opts.halo
    if halo < rf:
        log.warning("--halo %d is smaller than %s's reach (%d LR px, half its receptive "
                    "field): tile edges may show seams", halo, pm.name, rf)
    return opts.tile, halo


def output_nodata(raster: RasterInput) -> float:
    """The input's nodata value as float32 (NaN when the input declares none)."""
    if raster.nodata is None:
        return math.nan
    return float(np.float32(raster.nodata))


def _fingerprint(raster: RasterInput, pm: PredictModel, opts: RasterOptions, tile: int,
                 halo: int, plan: FramePlan, threads: int) -> dict[str, Any]:
    files = [{"path": str(p.resolve()), "size": p.stat().st_size,
              "mtime_ns": p.stat().st_mtime_ns} for p in raster.paths]
    return json.loads(json.dumps({
        "satsr_version": __version__, "inputs": files, "model": pm.identity(), "tile": tile,
        "halo": halo, "frames": list(plan.order), "fill": list(plan.fill), "threads": threads,
        "bands": raster.bands, "mask": str(raster.mask_path or ""),
        "mask_band": raster.mask_band, "nodata": repr(output_nodata(raster)),
        "device": opts.device}, default=str))


def _tags(raster: RasterInput, pm: PredictModel, plan: FramePlan, halo: int, tile: int,
          facts: dict[str, Any]) -> dict[str, str]:
    return {
        "satsr_version": __version__, "satsr_model": pm.name,
        "satsr_weights": pm.weights.name if pm.weights else "",
        "satsr_weights_sha256": pm.sha256,
        "satsr_hparams": json.dumps(pm.identity()["hparams"], sort_keys=True),
        "satsr_scale": str(pm.scale), "satsr_bands": ",".join(raster.bands),
        "value_scale": str(facts.get("value_scale") or ""),
        "sensor": str(facts.get("lr_sensor") or ""),
        "satsr_inputs": ",".join(p.name for p in raster.paths),
        "satsr_frames": ",".join(str(f) for f in plan.order),
        "satsr_tile": str(tile), "satsr_halo": str(halo),
    }


def _batch_reader(raster: RasterInput, plan: FramePlan, group: list[Tile]
                  ) -> Callable[[], tuple[list[tuple[Tile, np.ndarray]], np.ndarray]]:
    """A closure reading and filling one batch: ((tile, any_clear) per tile, lr (B,T,C,h,w))."""

    def prepare() -> tuple[list[tuple[Tile, np.ndarray]], np.ndarray]:
        arrays, keys = [], []
        for t in group:
            reads = [raster.read(f, t.iy0, t.ix0, t.ih, t.iw) for f in plan.order]
            frames = np.stack([r[0] for r in reads])
            clear = np.stack([r[1] for r in reads])
            filled, any_clear = fill_invalid(frames, clear, plan.fill)
            arrays.append(filled)
            keys.append((t, any_clear))
        return keys, np.stack(arrays)

    return prepare


def _store_batch(part: Partial, keys: list[tuple[Tile, np.ndarray]], sr: np.ndarray,
                 scale: int, nodata: float) -> None:
    """Crop every tile's core out of its window's output, mask it and write it."""
    for (t, any_clear), out in zip(keys, sr, strict=True):
        ys, xs = t.core_in_output(scale)
        block = np.ascontiguousarray(out[:, ys, xs], dtype=np.float32)
        cy, cx = t.core_in_input()
        clear = any_clear[cy, cx].repeat(scale, 0).repeat(scale, 1)
        block[:, ~clear] = np.float32(nodata)
        part.write(t.index, t.y0 * scale, t.x0 * scale, block)
    part.commit()


def predict_raster(model: str | PredictModel, source: str | os.PathLike[str] | Sequence[Any],
                   out: str | os.PathLike[str], options: RasterOptions | None = None, *,
                   on_batch: Callable[[int], None] | None = None) -> RasterResult:
    """Super-resolve a GeoTIFF (or a time stack of them) into ``out`` (see module docstring).

    ``model`` is ``NAME[:WEIGHTS]`` or a :class:`PredictModel`; ``on_batch`` is called with the
    number of tiles after each batch is stored (tests use it to interrupt runs).
    """
    import torch

    opts = options or RasterOptions()
    out = Path(out).expanduser()
    raster = open_raster(source, bands=opts.bands, mask_band=opts.mask_band, mask=opts.mask)
    given = [source] if isinstance(source, str | os.PathLike) else list(source)
    checks.check_output_path(out, [Path(p).expanduser() for p in given],
                             overwrite=opts.overwrite)
    pm = model if isinstance(model, PredictModel) else load_model(
        model, scale=opts.scale or 3, in_channels=raster.n_bands)
    facts = checks.raster_facts(raster, value_scale=opts.value_scale, sensor=opts.sensor)
    mismatches = checks.check_model_input(pm, n_bands=raster.n_bands, scale=opts.scale,
                                          facts=facts, allow_mismatch=opts.allow_mismatch)
    tile, halo = choose_halo(pm, raster, opts)
    tiles = plan_tiles(raster.grid.height, raster.grid.width, tile=tile, halo=halo)
    groups = batches(tiles, opts.batch_size)
    threads = int(opts.threads or torch.get_num_threads())
    client = connect(opts.scheduler) if opts.scheduler else None
    from satsr.progress import make_progress

    try:
        with make_progress(disable=not opts.progress) as bar:
            scan = bar.add_task("scanning input", total=raster.n_frames * strips(
                raster.grid.height), status=f"{raster.n_frames} frame(s)")
            plan = plan_frames(raster.read, raster.n_frames, raster.n_bands, raster.grid.height,
                               raster.grid.width, frames_used(pm.model),
                               on_strip=lambda: bar.advance(scan))
            nodata = output_nodata(raster)
            sgrid = raster.grid.scaled(pm.scale)
            part = open_partial(out, _fingerprint(raster, pm, opts, tile, halo, plan, threads),
                                shape=(raster.n_bands, sgrid.height, sgrid.width),
                                chunk=tile * pm.scale, fill_value=nodata, resume=opts.resume)
            reused = len(part.done)
            todo = [g for g in groups if any(t.index not in part.done for t in g)]
            task = bar.add_task(f"predict {pm.name}", total=len(tiles), status=f"halo {halo}")
            bar.advance(task, len(tiles) - sum(len(g) for g in todo))
            t0 = time.perf_counter()
            readers = [_batch_reader(raster, plan, g) for g in todo]
            results: Iterator[tuple[Any, np.ndarray]] = (
                run_distributed(client, pm.model, readers, threads=threads, tag=out.stem)
                if client is not None else
                run_local(pm.model, readers, threads=threads, device=opts.device))
            for keys, sr in results:
                _store_batch(part, keys, sr, pm.scale, nodata)
                bar.advance(task, len(keys))
                if on_batch is not None:
                    on_batch(len(keys))
            seconds = time.perf_counter() - t0
            tags = _tags(raster, pm, plan, halo, tile, facts)
            finish(part, out, sgrid, bands=raster.bands, nodata=nodata, tags=tags, cog=opts.cog)
    finally:
        if client is not None:
            client.close()
    return RasterResult(out, len(tiles), reused, halo, plan.order, seconds, tags, mismatches)


__all__ = ["RasterOptions", "RasterResult", "choose_halo", "predict_raster"]

