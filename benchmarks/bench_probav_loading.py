"""PROBA-V loading speed: prepared Zarr stores vs decoding the PNGs, same process.

The real scenes (``$SATSR_TEST_DATA/probav``, two scenes) are copied ``--repeat`` times under
new scene ids into a temporary root, prepared once, then loaded fully into memory
(``.load()``) ``--rounds`` times by each path, alternating. Prints scenes/s for both and the
ratio (Zarr / PNG; > 1 means the prepared store is faster) and writes them as JSON.

    python benchmarks/bench_probav_loading.py [--repeat 40] [--rounds 5] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import dask

from satsr import __version__
from satsr._atomic import write_text
from satsr.datasets import probav as pv

REPO = Path(__file__).resolve().parents[1]
SCENES = (("RED", "imgset0000"), ("NIR", "imgset0594"))


def _data_root() -> Path:
    env = os.environ.get("SATSR_TEST_DATA")
    base = Path(env) if env else REPO.parent / "shared" / "data"
    root = base / "probav"
    if not (root / "norm.csv").exists():
        raise SystemExit(f"real PROBA-V scenes not found under {root}; set SATSR_TEST_DATA")
    return root


def _replicate(src: Path, dst: Path, repeat: int) -> int:
    """Copy each real scene ``repeat`` times (ids imgset9000+) into ``dst``; return scenes."""
    n = 0
    for band, scene in SCENES:
        for _ in range(repeat):
            target = dst / "train" / band / f"imgset{9000 + n:04d}"
            shutil.copytree(src / "train" / band / scene, target)
            n += 1
    shutil.copy(src / "norm.csv", dst / "norm.csv")
    return n


def _time_load(root: Path, *, prepared: bool) -> float:
    """Seconds to load every band into memory via one path."""
    store_dir = root / pv.PREPARED_DIR
    hidden = root / ".satsr-hidden"
    if not prepared:
        os.replace(store_dir, hidden)  # force the PNG path
    try:
        t0 = time.perf_counter()
        for ds in pv.load_probav(root=root):
            ds.load()
        return time.perf_counter() - t0
    finally:
        if not prepared:
            os.replace(hidden, store_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=40, help="copies of each real scene")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per path")
    parser.add_argument("--out", type=Path,
                        default=REPO / "benchmarks/results_speed/probav_loading.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "probav"
        n = _replicate(_data_root(), root, args.repeat)
        t0 = time.perf_counter()
        pv.prepare_probav(root, progress=False)
        prepare_s = time.perf_counter() - t0
        with dask.config.set(scheduler="threads"):
            _time_load(root, prepared=True)  # warm-up (imports, file cache) for both paths
            _time_load(root, prepared=False)
            png, zarr = [], []
            for _ in range(args.rounds):
                png.append(_time_load(root, prepared=False))
                zarr.append(_time_load(root, prepared=True))
    png_rate = n / statistics.median(png)
    zarr_rate = n / statistics.median(zarr)
    result = {
        "benchmark": "probav_loading",
        "scenes": n,
        "rounds": args.rounds,
        "png_scenes_per_s": round(png_rate, 2),
        "zarr_scenes_per_s": round(zarr_rate, 2),
        "ratio_zarr_over_png": round(zarr_rate / png_rate, 3),
        "prepare_s": round(prepare_s, 3),
        "png_s": [round(x, 4) for x in png],
        "zarr_s": [round(x, 4) for x in zarr],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(),
                    "load_average_1min": round(os.getloadavg()[0], 2)},
        "satsr_version": __version__,
    }
    print(f"PROBA-V loading, {n} scenes (2 real scenes x {args.repeat}), median of "
          f"{args.rounds} rounds")
    print(f"  PNG decoding : {png_rate:8.1f} scenes/s")
    print(f"  prepared Zarr: {zarr_rate:8.1f} scenes/s")
    print(f"  ratio Zarr/PNG: {zarr_rate / png_rate:.2f}x   (prepare took {prepare_s:.2f} s)")
    write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
