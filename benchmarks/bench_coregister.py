"""Co-registration speed and accuracy: batched masked phase correlation (+ Gauss–Newton) vs a
per-chip ``skimage.registration.phase_cross_correlation`` loop, in the same process.

Chips come from the REAL Sentinel-2 image of the shared test data (mean of bands 1–4; band 5 is
not spectral), degraded to 30 m and shifted by known sub-pixel offsets on a grid over ±2 LR px
(the same construction as ``tests/data/test_coregister.py``). Reported per method: chips/s,
median and 95th-percentile error (LR px). Methods:

- ``batched`` — :func:`satsr.data.coregister.estimate_shifts` (phase correlation, upsampled DFT
  ×20, masked Gauss–Newton refinement, outlier checks) on the whole stack;
- ``batched_pc`` — the same without the refinement (phase correlation + upsampled DFT ×20 only);
- ``skimage_u20`` / ``skimage_u100`` — ``phase_cross_correlation(upsample_factor=20/100)`` chip
  by chip (the reference).

Everything runs on one thread (torch and NumPy) so the ratios compare algorithms, not cores.

    python benchmarks/bench_coregister.py [--quick] [--chip 32] [--steps 9] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio
import torch
from scipy import ndimage
from skimage.registration import phase_cross_correlation

from satsr import __version__
from satsr.data.coregister import degrade, estimate_shifts

REPO = Path(__file__).resolve().parents[1]
S2 = "l8s2/2023-10-09-22-28-02_S2_ms.tif"


def shifted_stack(path: Path, chip: int, margin: int, steps: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ref (B, chip, chip), mov (B, chip+2m, chip+2m), truth (B, 2) LR px) from the real image."""
    with rasterio.open(path) as ds:
        img = ds.read([1, 2, 3, 4]).astype(np.float64).mean(axis=0) / 1e4
    img = img[:438, 1:439]  # column 0 and the last row are nodata
    lr_ref = degrade(img, 3)
    n = lr_ref.shape[0]
    starts = np.linspace(margin + 2, n - chip - margin - 2, 3).astype(int)
    refs, movs, truth = [], [], []
    for ty in np.linspace(-2, 2, steps):
        for tx in np.linspace(-2, 2, steps):
            lr_mov = degrade(ndimage.shift(img, (3 * ty, 3 * tx), order=3, mode="nearest"), 3)
            for r in starts:
                for c in starts:
                    refs.append(lr_ref[r:r + chip, c:c + chip])
                    movs.append(lr_mov[r - margin:r + chip + margin, c - margin:c + chip + margin])
                    truth.append((ty, tx))
    return np.stack(refs), np.stack(movs), np.array(truth)


def timed(fn: Callable[[], np.ndarray], rounds: int) -> tuple[float, np.ndarray]:
    best, out = np.inf, np.zeros(0)
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="7x7 offsets, 1 round")
    parser.add_argument("--chip", type=int, default=32, help="LR chip side (px)")
    parser.add_argument("--steps", type=int, default=9, help="offsets per axis over ±2 LR px")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON path (default benchmarks/results_speed/coregister.json)")
    args = parser.parse_args()
    steps, rounds = (7, 1) if args.quick else (args.steps, args.rounds)
    out = args.out or (Path(tempfile.gettempdir()) / "satsr_bench_coregister_quick.json"
                       if args.quick else REPO / "benchmarks/results_speed/coregister.json")
    data = Path(os.environ.get("SATSR_TEST_DATA", REPO.parent / "shared" / "data"))
    margin = 6
    torch.set_num_threads(1)
    ref, mov, truth = shifted_stack(data / S2, args.chip, margin, steps)
    core = mov[:, margin:-margin, margin:-margin]

    def batched() -> np.ndarray:
        r = estimate_shifts(ref, mov, margin=margin)
        return np.stack([r.dy, r.dx], axis=1)

    def batched_pc() -> np.ndarray:
        r = estimate_shifts(ref, mov, margin=margin, refine_iters=0)
        return np.stack([r.dy, r.dx], axis=1)

    def skimage(up: int) -> Callable[[], np.ndarray]:
        def run() -> np.ndarray:
            # skimage returns the shift that registers moving onto reference: the negative of
            # satsr's displacement convention
            return np.stack([-phase_cross_correlation(a, b, upsample_factor=up)[0]
                             for a, b in zip(ref, core, strict=True)])
        return run

    methods = {"batched": batched, "batched_pc": batched_pc,
               "skimage_u20": skimage(20), "skimage_u100": skimage(100)}
    result: dict[str, object] = {
        "satsr_version": __version__, "chips": len(ref), "chip_lr_px": args.chip,
        "offsets": f"{steps}x{steps} over ±2 LR px", "threads": 1,
        "machine": platform.machine(), "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    rows = {}
    for name, fn in methods.items():
        secs, est = timed(fn, rounds)
        err = np.hypot(*(est - truth).T)
        rows[name] = {"chips_per_s": round(len(ref) / secs, 1),
                      "median_err_px": round(float(np.median(err)), 4),
                      "p95_err_px": round(float(np.percentile(err, 95)), 4)}
        print(f"{name:13s} {rows[name]['chips_per_s']:9.1f} chips/s   median "
              f"{rows[name]['median_err_px']:.4f} px   p95 {rows[name]['p95_err_px']:.4f} px")
    b, s20, s100 = rows["batched"], rows["skimage_u20"], rows["skimage_u100"]
    ratios = {
        "batched_pc_vs_skimage_u20": round(rows["batched_pc"]["chips_per_s"] / s20["chips_per_s"], 2),
        "batched_vs_skimage_u20": round(b["chips_per_s"] / s20["chips_per_s"], 2),
        "batched_vs_skimage_u100": round(b["chips_per_s"] / s100["chips_per_s"], 2),
    }
    result.update(methods=rows, speed_ratios=ratios)
    for k, v in ratios.items():
        print(f"  {k}: {v}x")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
