"""PROBA-V loading speed: prepared Zarr stores vs decoding the PNGs, same process.

The real scenes (``$SATSR_TEST_DATA/probav``, two scenes) are copied ``--repeat`` times under
new scene ids into a temporary root and prepared once. Then every band is loaded fully into
memory (``load_probav(...)`` + ``.load()``, what training does) by each read path:

- ``png``: decoding the PNGs (no prepared store);
- ``zarr_dask``: the prepared store opened with dask (``schema.open_dataset``'s default);
- ``zarr``: the prepared store opened without dask (``dask=False``: whole chunk files read,
  checked and decoded directly, what ``satsr train`` uses).

It also rewrites the RED store with other storage options through ``schema.save_dataset`` —
``lr``/``hr`` compressed (zstd) or not, scenes per chunk, float32 vs uint16 on disk (lossless
for PROBA-V, values k/65535) — and loads each through the no-dask path, so the defaults
(``probav.VALUE_CODEC``, ``schema.SCENES_PER_CHUNK``) are chosen by measurement, and it times
the two checksums over every chunk file (``read_checks``: the crc32c every read recomputes vs
sha256). Caveat: the copies of one scene are identical, so zstd finds more to remove here than
on the full dataset (real distinct frames compress to ~0.6 at level 1). One warm-up, then the
median of ``--rounds`` runs (wall clock, spread recorded, ±20 % flagged) and CPU time (steadier
on a shared machine).

    python benchmarks/bench_probav_loading.py [--quick] [--repeat 40] [--rounds 5] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import xarray as xr

from satsr import _chunkio, schema
from satsr._atomic import write_text
from satsr.bench.timing import Timing, machine_facts, time_call
from satsr.datasets import probav as pv

REPO = Path(__file__).resolve().parents[1]
SCENES = (("RED", "imgset0000"), ("NIR", "imgset0594"))
TARGET = 10.0


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


def load_all(root: Path, path: str) -> None:
    """Load every band of ``root`` into memory by one read path (png, zarr_dask, zarr)."""
    store_dir = root / pv.PREPARED_DIR
    hidden = root / ".satsr-hidden"
    if path == "png":
        os.replace(store_dir, hidden)  # force the PNG path
    try:
        for ds in pv.load_probav(root=root, dask=path == "zarr_dask"):
            ds.load()
    finally:
        if path == "png":
            os.replace(hidden, store_dir)


def _variant(ds: xr.Dataset, dest: Path, codec: str, per_chunk: int, uint16: bool) -> Path:
    """``ds`` rewritten by ``schema.save_dataset`` with one storage option for ``lr``/``hr``."""
    return schema.save_dataset(ds, dest, uint16_peak=int(pv.PEAK) if uint16 else None,
                               value_codec=codec, scenes_per_chunk=per_chunk)


def _load_variant(path: Path) -> None:
    schema.open_dataset(path, dask=False).load()


def storage_options(root: Path, tmp: Path, rounds: int) -> list[dict[str, Any]]:
    """Load speed of the RED store under each storage option (no-dask read path)."""
    ds = schema.open_dataset(pv.prepared_path(root, "RED"), dask=False).load()
    rows = []
    for codec in schema.VALUE_CODECS:
        for per_chunk in (8, 32):
            for uint16 in (False, True):
                dest = _variant(ds, tmp / f"{codec}-{per_chunk}-{uint16}.zarr", codec,
                                per_chunk, uint16)
                t = time_call(partial(_load_variant, dest), repeats=rounds)
                size = sum(f.stat().st_size for f in dest.rglob("*") if f.is_file())
                n = ds.sizes["scene"]
                rows.append({"codec": codec, "scenes_per_chunk": per_chunk,
                             "dtype_on_disk": "uint16" if uint16 else "float32",
                             "mb_per_scene": round(size / n / 1e6, 4),
                             "scenes_per_s": round(n / t.median_s, 1),
                             "scenes_per_cpu_s": round(n / t.cpu_median_s, 1),
                             "timing": t.summary(per=n)})
    return rows


def read_checks(root: Path, rounds: int) -> dict[str, Any]:
    """Cost of checking every chunk file of both prepared stores, per checksum: the crc32c
    that every read recomputes vs a sha256 of each file (what ``satsr datasets verify`` adds)."""
    files = [f.read_bytes() for band in pv.BANDS
             for f in sorted(pv.prepared_path(root, band).rglob("c/**/*")) if f.is_file()]
    out: dict[str, Any] = {"mb": round(sum(len(b) for b in files) / 1e6, 2)}
    for name, fn in (("crc32c", _chunkio.crc32c), ("sha256", _chunkio.sha256_hex)):
        t = time_call(partial(lambda f: [f(b) for b in files], fn), repeats=rounds)
        out[f"{name}_ms"] = round(t.median_s * 1e3, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="5 copies, 2 rounds (writes to a temporary file unless --out)")
    parser.add_argument("--repeat", type=int, default=40, help="copies of each real scene")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per path")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON path (default benchmarks/results_speed/probav_loading.json)")
    args = parser.parse_args()
    if args.quick:
        args.repeat, args.rounds = min(args.repeat, 5), 2
    out = args.out or (Path(tempfile.gettempdir()) / "satsr_bench_probav_loading_quick.json"
                       if args.quick else REPO / "benchmarks/results_speed/probav_loading.json")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        root = tmp / "probav"
        n = _replicate(_data_root(), root, args.repeat)
        prepare = time_call(partial(pv.prepare_probav, root, progress=False, overwrite=True),
                            repeats=1, warmup=0)
        times: dict[str, Timing] = {
            path: time_call(partial(load_all, root, path), repeats=args.rounds)
            for path in ("png", "zarr_dask", "zarr")}
        options = storage_options(root, tmp, args.rounds)
        checks = read_checks(root, args.rounds)
    png = times["png"]
    result = {
        "benchmark": "probav_loading", "scenes": n, "rounds": args.rounds, "quick": args.quick,
        "target_ratio": TARGET,
        "scenes_per_s": {k: round(n / t.median_s, 1) for k, t in times.items()},
        "scenes_per_cpu_s": {k: round(n / t.cpu_median_s, 1) for k, t in times.items()},
        "ratio_vs_png": {k: round(png.median_s / t.median_s, 2) for k, t in times.items()},
        "ratio_vs_png_cpu": {k: round(png.cpu_median_s / t.cpu_median_s, 2)
                             for k, t in times.items()},
        "prepare_s": round(prepare.median_s, 3),
        "timings": {k: t.summary(per=n) for k, t in times.items()},
        "storage_options": options,
        "read_checks": checks,
        "machine": machine_facts(),
    }
    print(f"PROBA-V loading, {n} scenes (2 real scenes x {args.repeat}), median of "
          f"{args.rounds} rounds")
    for k in times:
        print(f"  {k:<10} {result['scenes_per_s'][k]:8.1f} scenes/s "  # type: ignore[index]
              f"({result['ratio_vs_png'][k]:.2f}x PNG; CPU "  # type: ignore[index]
              f"{result['ratio_vs_png_cpu'][k]:.2f}x)")  # type: ignore[index]
    for o in options:
        print(f"  store {o['codec']:<6} {o['scenes_per_chunk']:>3}/chunk {o['dtype_on_disk']:<8}"
              f" {o['mb_per_scene']:7.3f} MB/scene {o['scenes_per_s']:8.1f} scenes/s")
    print(f"  checking every chunk ({checks['mb']} MB): crc32c {checks['crc32c_ms']} ms, "
          f"sha256 {checks['sha256_ms']} ms")
    write_text(out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
