"""``satsr predict`` on a large raster: peak memory, tiles/s and Mpx/s, and throughput against a
bare ``model(batch)`` loop over the same tiles, in one process.

A synthetic single-band LR GeoTIFF of ``--size``² px (smooth noise; the cost does not depend on
the content) goes through ``edsr-baseline`` (``small`` preset, seeded random weights) with the
default tiling (512-px tiles, halo from the registry, batch 4). Reported: the peak resident
memory of the whole process (``ru_maxrss``; the targets are < 2 GB and independent of the
raster size, since tiles stream through disk), tiles/s and LR/SR Mpx/s, and two ratios against
the bare loop (the same batches of the same shapes, preallocated random tensors, no I/O): the
tile loop alone (reading, filling, forward, writing tiles) and end to end (plus the input scan
and writing the GeoTIFF). The bare loop runs before and after predict; its mean is the
reference.

    python benchmarks/bench_predict.py [--size 10000] [--out benchmarks/results_speed/predict.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from satsr import __version__
from satsr._atomic import write_text
from satsr.models import create_model
from satsr.predict import RasterOptions, predict_raster, wrap_model
from satsr.predict.tiles import batches, plan_tiles

MODEL = "edsr-baseline"


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


def bare_loop(model: torch.nn.Module, groups: list[list[Any]], threads: int) -> float:
    """Seconds for ``model(batch)`` over batches shaped like predict's, no I/O."""
    torch.set_num_threads(threads)
    shapes = [(len(g), 1, 1, g[0].ih, g[0].iw) for g in groups]
    inputs = {s: torch.rand(s, generator=torch.Generator().manual_seed(0)) for s in set(shapes)}
    t0 = time.perf_counter()
    with torch.inference_mode():
        for s in shapes:
            model(inputs[s])
    return time.perf_counter() - t0


def run(size: int, tile: int, batch: int, threads: int) -> dict[str, Any]:
    torch.manual_seed(0)
    model = create_model(MODEL, preset="small").eval()
    pm = wrap_model(model, name=MODEL)
    assert pm.reach is not None, "edsr-baseline declares a receptive field"
    tiles = plan_tiles(size, size, tile=tile, halo=pm.reach)
    groups = batches(tiles, batch)
    with tempfile.TemporaryDirectory(prefix="satsr-bench-predict-") as tmp:
        src = write_raster(Path(tmp) / "lr.tif", size)
        before = bare_loop(model, groups, threads)
        t0 = time.perf_counter()
        res = predict_raster(pm, src, Path(tmp) / "sr.tif", RasterOptions(
            tile=tile, batch_size=batch, threads=threads, progress=False))
        total = time.perf_counter() - t0
        out_bytes = res.out.stat().st_size
        after = bare_loop(model, groups, threads)
    bare = (before + after) / 2
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    lr_mpx, sr_mpx = size * size / 1e6, size * size * 9 / 1e6
    return {
        "size_lr_px": size, "tile": tile, "halo": res.halo, "batch": batch,
        "threads": threads, "n_tiles": res.n_tiles, "peak_rss_gb": round(rss_gb, 3),
        "output_bytes": out_bytes,
        "tile_loop_s": round(res.seconds, 2), "end_to_end_s": round(total, 2),
        "bare_loop_s": round(bare, 2), "bare_loop_runs_s": [round(before, 2), round(after, 2)],
        "tiles_per_s": round(res.n_tiles / res.seconds, 3),
        "lr_mpx_per_s": round(lr_mpx / res.seconds, 3),
        "sr_mpx_per_s": round(sr_mpx / res.seconds, 3),
        "ratio_tile_loop_vs_bare": round(bare / res.seconds, 3),
        "ratio_end_to_end_vs_bare": round(bare / total, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10000, help="LR raster side (px)")
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--note", default="", help="free text stored with the results")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results_speed" / "predict.json")
    args = parser.parse_args()
    result = run(args.size, args.tile, args.batch, args.threads)
    result.update({"benchmark": "predict", "model": f"{MODEL} (small preset)",
                   "satsr_version": __version__, "torch": torch.__version__,
                   "python": platform.python_version(), "machine": platform.machine(),
                   "note": args.note})
    write_text(args.out, json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(json.dumps(result, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
