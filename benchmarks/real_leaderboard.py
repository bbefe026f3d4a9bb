"""Benchmark every shipped model on every REAL dataset we hold, into ``benchmarks/results/``.

    python benchmarks/real_leaderboard.py [--data ../shared/data] [--only probav,chips,wald]

Datasets (all REAL imagery; see each results folder's summary.json for provenance):

- ``probav``: the real PROBA-V scenes in ``<data>/probav`` (both tracks) →
  ``benchmarks/results/probav-shared-train``;
- ``chips``: chips fetched from the real Landsat-9/Sentinel-2 pair with the local source
  (``satsr fetch --source local``, the same AOI and options as the fetch tests) →
  ``benchmarks/results/l8s2-chips-<band>``, one run per band;
- ``wald``: a Wald-protocol set cut from the real Sentinel-2 image (``satsr datasets make
  --sensor sentinel2 --scale 3``, single frame: the classic protocol) →
  ``benchmarks/results/wald-s2-<band>`` for the red and NIR bands, the two bands the shipped
  (PROBA-V-like RED/NIR) weights were trained for.

The shipped weights are single-band models trained on the SYNTHETIC PROBA-V-like sample, so
multi-band datasets are scored one band at a time, with ``allow_mismatch`` (their sidecars name
the synthetic sensors). Every run starts from an empty folder.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from satsr.testing.real_pair import S2_FILE, write_local_manifest

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
AOI = REPO / "datasets" / "aoi" / "unalakleet.geojson"
CHIP_BANDS = ("blue", "green", "red", "nir")
WALD_BANDS = ("red", "nir")


def model_spec() -> str:
    """``bicubic,mean-bicubic,<model>:<shipped weights>,...`` (paths relative to the repo)."""
    from satsr.models.weights import list_pretrained

    shipped = [f"{w['model']}:{Path(w['path']).resolve().relative_to(REPO)}"
               for w in list_pretrained()]
    return ",".join(["bicubic", "mean-bicubic", *shipped])


def bench(dataset: Path, out: Path, band: str | None = None) -> None:
    """One fresh bench run of every shipped model on ``dataset`` into ``out``."""
    from satsr.bench import BenchConfig, run_bench

    if out.exists():
        shutil.rmtree(out)
    # allow_mismatch: the shipped weights were trained on the SYNTHETIC PROBA-V-like sample;
    # running them on real sensors is exactly what these runs measure.
    run_bench(BenchConfig(models=model_spec(), dataset=str(dataset), band=band, out=out,
                          progress=False, resume=False, allow_mismatch=True))
    print(f"wrote {out.relative_to(REPO)}")


def satsr(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "satsr", *args], check=True, cwd=REPO)


def fetch_chips(data: Path, work: Path) -> Path:
    src = write_local_manifest(work / "src", data / "l8s2")
    out = work / "chips"
    satsr("fetch", "--source", "local", "--local-dir", str(src), "--aoi", str(AOI),
          "--start", "2023-10-01", "--end", "2023-10-31", "--pair-days", "120",
          "--chip", "32", "--out", str(out), "--no-progress")
    return out / "chips.zarr"


def make_wald(data: Path, work: Path) -> Path:
    out = work / "wald-s2.zarr"
    satsr("datasets", "make", "--from", str(data / "l8s2" / S2_FILE), "--scale", "3",
          "--sensor", "sentinel2", "--name", "wald-s2", "--out", str(out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--only", default="probav,chips,wald")
    args = parser.parse_args()
    only = set(args.only.split(","))
    if "probav" in only:
        bench(args.data / "probav", RESULTS / "probav-shared-train")
    with tempfile.TemporaryDirectory(prefix="satsr-real-") as tmp:
        if "chips" in only:
            chips = fetch_chips(args.data, Path(tmp))
            for band in CHIP_BANDS:
                bench(chips, RESULTS / f"l8s2-chips-{band}", band)
        if "wald" in only:
            wald = make_wald(args.data, Path(tmp))
            for band in WALD_BANDS:
                bench(wald, RESULTS / f"wald-s2-{band}", band)


if __name__ == "__main__":
    main()
