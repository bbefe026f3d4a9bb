"""Cost of store integrity on a prepared PROBA-V store, as ratios in the same process.

The real scenes (``$SATSR_TEST_DATA/probav``) are copied ``--repeat`` times under new scene ids,
prepared once per band with :func:`satsr.datasets.probav.prepare_probav` (crc32c codec, every
chunk written, content hashes recorded). Then, alternating for ``--rounds``:

- ``guarded``: :func:`satsr.schema.open_dataset` (presence check of every chunk file, schema
  validation), then ``.load()``: every chunk's crc32c and sha256 content hash verified as it
  is decoded (what ``satsr bench``/``satsr train`` do);
- ``plain``: ``xarray.open_zarr``, then ``.load()`` of the same store — crc32c only, no
  presence check, no content hash, no validation (the reference);
- ``verify``: :func:`satsr.integrity.verify_store` (``satsr datasets verify``: every array).

Open and load are timed separately (open is a fixed cost per store, load grows with the data).
Also reported: the time :func:`satsr.integrity.record_hashes` adds to writing the store. Prints
median seconds and ratios; writes them as JSON.

    python benchmarks/bench_store_integrity.py [--repeat 20] [--rounds 5] [--out PATH]
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import xarray as xr

from satsr import __version__, integrity, schema
from satsr._atomic import write_text
from satsr.datasets import probav as pv

REPO = Path(__file__).resolve().parents[1]


def _copy_scenes(src: Path, dst: Path, repeat: int) -> None:
    """``repeat`` copies of every train scene of ``src`` under new ids, plus a norm.csv."""
    lines = []
    for scene in sorted(src.glob("train/*/imgset*")):
        for i in range(repeat):
            new = f"imgset{9000 + 100 * len(lines) // max(repeat, 1) + i:04d}"
            shutil.copytree(scene, dst / "train" / scene.parent.name / new)
            lines.append(f"{new} 40.0")
    (dst / "norm.csv").write_text("\n".join(lines) + "\n")


def _timed(fn: Callable[[], Any], times: list[float]) -> Any:
    start = time.perf_counter()
    out = fn()
    times.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path,
                        default=REPO / "benchmarks/results_speed/store_integrity.json")
    args = parser.parse_args()
    data = Path(os.environ.get("SATSR_TEST_DATA", REPO.parent / "shared/data")) / "probav"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "probav"
        _copy_scenes(data, root, args.repeat)
        start = time.perf_counter()
        stores = pv.prepare_probav(root, progress=False)
        prepare_s = time.perf_counter() - start
        start = time.perf_counter()
        for store in stores:
            integrity.record_hashes(store)
        hashes_s = time.perf_counter() - start
        timings: dict[str, list[float]] = {k: [] for k in (
            "open_guarded", "load_guarded", "open_plain", "load_plain", "verify")}
        for _ in range(args.rounds):
            for store in stores:
                ds = _timed(lambda s=store: schema.open_dataset(s), timings["open_guarded"])
                _timed(ds.load, timings["load_guarded"])
                ds = _timed(lambda s=store: xr.open_zarr(s, consolidated=False),
                            timings["open_plain"])
                _timed(ds.load, timings["load_plain"])
                _timed(lambda s=store: integrity.verify_store(s), timings["verify"])
        scenes = sum(schema.open_dataset(s).sizes["scene"] for s in stores)
        mb = sum(schema.open_dataset(s).nbytes for s in stores) / 1e6
    med = {k: statistics.median(v) * len(stores) for k, v in timings.items()}
    result = {
        "satsr_version": __version__, "machine": platform.machine(),
        "processor": platform.processor(), "cpus": os.cpu_count(),
        "scenes": scenes, "decoded_mb": round(mb, 1), "rounds": args.rounds,
        "prepare_s": round(prepare_s, 3), "record_hashes_s": round(hashes_s, 3),
        "record_hashes_share_of_prepare": round(hashes_s / prepare_s, 3),
        **{f"{k}_s": round(v, 3) for k, v in med.items()},
        "load_guarded_over_plain": round(med["load_guarded"] / med["load_plain"], 2),
        "open_and_load_guarded_over_plain": round(
            (med["open_guarded"] + med["load_guarded"]) / (med["open_plain"] + med["load_plain"]),
            2),
    }
    print(json.dumps(result, indent=2))
    write_text(args.out, json.dumps(result, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
