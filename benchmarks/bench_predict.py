"""``satsr predict`` on large rasters: peak memory, tiles/s and Mpx/s, and throughput against a
bare ``model(batch)`` loop over the same tiles.

A synthetic single-band LR GeoTIFF of ``--size``² px (smooth noise; the cost does not depend on
the content) goes through ``edsr-baseline`` (``small`` preset, seeded random weights) with the
default tiling (256-px tiles, halo from the registry, batch 4), on ``--threads`` torch threads.
Each size runs in a fresh Python process, so each peak resident memory (``ru_maxrss`` of that
process) belongs to that size alone; several sizes show whether memory grows with the raster
(the target is < 2 GB at 10,000² and independent of the size: tiles stream through disk).

Reference: a bare loop (the same model, batches of the same shapes, preallocated random tensors,
no I/O) over a **fixed sample** of the run's batches — ``--bare-sample`` tiles, evenly spaced
over the tile list, timed before and after predict — so that the reference costs minutes, not
a second full pass, at 10,000² (1,600 tiles). The ratios compare **per-tile** times: bare
seconds per tile (mean of before and after) / predict seconds per tile, for the tile loop alone
(reading, filling, forward, writing tiles) and end to end (plus the input scan and writing the
GeoTIFF). The JSON records the sample size, both bare runs, the thread count, the nice level and
the load average (a load above the CPU count means the machine was shared while timing).

``--io-check SIZE`` (or ``--model bicubic``) runs a raster through the bicubic baseline (tiled with
``allow_seams``; cost ~0): a memory check of everything but the network (scan, reading, partial
store, GeoTIFF) at a size the network would take hours for on a small CPU.

    python benchmarks/bench_predict.py --size 4096 --size 2048 [--io-check 10000] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from satsr import __version__
from satsr._atomic import write_text
from satsr.bench.timing import machine_facts
from satsr.models import create_model
from satsr.predict import RasterOptions, predict_raster, wrap_model
from satsr.predict.tiles import Tile, batches, plan_tiles

MODEL = "edsr-baseline"
#: halo for the bicubic memory check (bicubic reads 2 px around each output; any halo works)
BICUBIC_HALO = 4


def write_raster(path: Path, size: int, seed: int = 0) -> Path:
    """A ``size``² float32 GeoTIFF (tiled, written in 512-row strips: never whole in memory)."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    rng = np.random.default_rng(seed)
    profile = {"driver": "GTiff", "height": size, "width": size, "count": 1,
               "dtype": "float32", "crs": "EPSG:32633", "tiled": True, "blockxsize": 512,
               "blockysize": 512, "transform": from_origin(500000.0, 5000000.0, 30.0, 30.0),
               "BIGTIFF": "IF_SAFER"}
    with rasterio.open(path, "w", **profile) as dst:
        for y0 in range(0, size, 512):
            h = min(512, size - y0)
            base = rng.random((h, size), dtype=np.float32)
            strip = 0.1 + 0.1 * (base + np.roll(base, 1, 1) + np.roll(base, 1, 0)) / 3
            dst.write(strip[None], window=Window(0, y0, size, h))
    return path


def sample_batches(groups: list[list[Tile]], tiles: int, batch: int) -> list[list[Tile]]:
    """About ``tiles`` tiles' worth of ``groups`` (batches of up to ``batch`` tiles), evenly
    spaced (all of them when fewer)."""
    per = max(1, round(tiles / max(1, batch)))
    if per >= len(groups):
        return groups
    picks = np.linspace(0, len(groups) - 1, per).round().astype(int)
    return [groups[i] for i in sorted(set(picks.tolist()))]


def bare_loop(model: torch.nn.Module, groups: list[list[Tile]], threads: int) -> float:
    """Seconds per tile of ``model(batch)`` over batches shaped like predict's, no I/O."""
    torch.set_num_threads(threads)
    shapes = [(len(g), 1, 1, g[0].ih, g[0].iw) for g in groups]
    inputs = {s: torch.rand(s, generator=torch.Generator().manual_seed(0)) for s in set(shapes)}
    t0 = time.perf_counter()
    with torch.inference_mode():
        for s in shapes:
            model(inputs[s])
    return (time.perf_counter() - t0) / sum(len(g) for g in groups)


def _model(name: str) -> tuple[Any, RasterOptions]:
    torch.manual_seed(0)
    if name == MODEL:
        model = create_model(MODEL, preset="small").eval()
        return wrap_model(model, name=MODEL), RasterOptions()
    model = create_model(name).eval()
    return wrap_model(model, name=name), RasterOptions(allow_seams=True, halo=BICUBIC_HALO)


def run(size: int, *, name: str, tile: int, batch: int, threads: int,
        bare_sample: int) -> dict[str, Any]:
    """One size in this process (see module docstring)."""
    pm, opts = _model(name)
    opts.tile, opts.batch_size, opts.threads, opts.progress = tile, batch, threads, False
    halo = pm.reach if pm.reach is not None else opts.halo
    groups = batches(plan_tiles(size, size, tile=tile, halo=halo), batch)
    sample = sample_batches(groups, bare_sample, batch)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="satsr-bench-predict-") as tmp:
        src = write_raster(Path(tmp) / "lr.tif", size)
        before = bare_loop(pm.model, sample, threads)
        t0 = time.perf_counter()
        res = predict_raster(pm, src, Path(tmp) / "sr.tif", opts)
        total = time.perf_counter() - t0
        out_bytes = res.out.stat().st_size
        after = bare_loop(pm.model, sample, threads)
    bare = (before + after) / 2
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    lr_mpx, sr_mpx = size * size / 1e6, size * size * pm.scale ** 2 / 1e6
    n = res.n_tiles
    return {
        "model": name, "size_lr_px": size, "tile": tile, "halo": res.halo, "batch": batch,
        "threads": threads, "n_tiles": n, "peak_rss_gb": round(rss_gb, 3),
        "output_bytes": out_bytes, "tile_loop_s": round(res.seconds, 2),
        "end_to_end_s": round(total, 2), "tiles_per_s": round(n / res.seconds, 4),
        "lr_mpx_per_s": round(lr_mpx / res.seconds, 4),
        "sr_mpx_per_s": round(sr_mpx / res.seconds, 4),
        "bare_sample_tiles": sum(len(g) for g in sample),
        "bare_s_per_tile": round(bare, 4),
        "bare_s_per_tile_runs": [round(before, 4), round(after, 4)],
        "ratio_tile_loop_vs_bare": round(bare / (res.seconds / n), 3),
        "ratio_end_to_end_vs_bare": round(bare / (total / n), 3),
        "load_average_start_end": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def _in_subprocess(size: int, args: argparse.Namespace, model: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--one", str(size), "--model", model, "--tile",
           str(args.tile), "--batch", str(args.batch), "--threads", str(args.threads),
           "--bare-sample", str(args.bare_sample)]
    done = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)  # stderr shown
    return dict(json.loads(done.stdout))


def tiles_at(size: int, tile: int) -> int:
    """Tiles of a ``size``² raster (for extrapolating a run to another size)."""
    return (-(-size // tile)) ** 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, action="append", help="LR raster side (px); "
                        "repeat for several sizes (default 10000)")
    parser.add_argument("--model", default=MODEL, choices=[MODEL, "bicubic"])
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--bare-sample", type=int, default=24, help="tiles in the bare loop")
    parser.add_argument("--target", type=int, default=10000, help="size to extrapolate to")
    parser.add_argument("--io-check", type=int, help="also run bicubic at this size (memory of "
                        "everything but the network)")
    parser.add_argument("--note", default="", help="free text stored with the results")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results_speed" / "predict.json")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run(args.one, name=args.model, tile=args.tile, batch=args.batch,
                             threads=args.threads, bare_sample=args.bare_sample)))
        return
    runs = [_in_subprocess(s, args, args.model) for s in (args.size or [10000])]
    io_check = _in_subprocess(args.io_check, args, "bicubic") if args.io_check else None
    head = max(runs, key=lambda r: r["size_lr_px"])
    per_tile = head["end_to_end_s"] / head["n_tiles"]
    label = f"{MODEL} (small preset)" if args.model == MODEL else args.model
    result = {"benchmark": "predict", "model": label, "runs": runs,
              "headline": head, "target_size_lr_px": args.target,
              "target_measured": any(r["size_lr_px"] >= args.target for r in runs),
              "target_estimate_s": round(per_tile * tiles_at(args.target, args.tile)),
              "peak_rss_gb_max": max(r["peak_rss_gb"] for r in runs), "io_check": io_check,
              "nice": os.nice(0), "satsr_version": __version__, "torch": torch.__version__,
              "python": platform.python_version(), "machine": machine_facts(),
              "note": args.note}
    write_text(args.out, json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(json.dumps(result, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
