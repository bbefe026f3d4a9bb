"""Co-registration speed at equal accuracy: satsr's batched estimator vs a per-chip
``skimage.registration.phase_cross_correlation`` loop, in the same process, on one thread.

Chips come from the REAL Sentinel-2 image of the shared test data (mean of bands 1–4; band 5 is
not spectral), degraded to 30 m and shifted by known sub-pixel offsets on a 10×10 grid over ±2
LR px (4/9-px spacing, so most offsets are off the 1/2-px lattice; the construction of
``tests/fetch/test_coregister.py``), cut at 9 places: 900 chips per chip size. Reported per
method and chip size: chips/s, median and 95th-percentile error (LR px).

satsr (:func:`satsr.fetch.coregister.estimate_shifts`, whole stack per call):

- ``satsr_full`` — what ``satsr fetch`` runs: masked phase correlation, masked-NCC integer
  search, masked Gauss–Newton refinement against the HR chip shifted at 10 m and degraded
  (``ref_hr=``), outlier checks;
- ``satsr_full_lr`` — the same with the refinement interpolating the LR chip (no ``ref_hr``);
- ``satsr_pc`` — ``refine_iters=0``: masked, windowed phase correlation with the upsampled-DFT
  sub-pixel peak (1/20 px), peak ratio, NCC and status.

skimage, chip by chip (the reference; its shift sign is flipped to satsr's convention):

- ``skimage_u20`` / ``skimage_u100`` — ``phase_cross_correlation(ref, mov, upsample_factor=…)``
  as a user would call it;
- ``skimage_window_u20`` — the same after subtracting the mean and applying the Tukey window
  satsr uses: skimage's most accurate setting on these chips.

**Equal accuracy.** For every skimage variant, the fastest satsr method whose median AND 95th
percentile error are no worse (within 0.005 px) is its counterpart; ``speedup`` is their ratio
of chips/s. The headline (``speedup_at_equal_accuracy``) is against skimage's most accurate
variant. Both libraries run on one thread (``torch.set_num_threads(1)``; SciPy's FFT is
single-threaded by default), so ratios compare algorithms, not cores. Timings are the best of
``--rounds`` runs.

    python benchmarks/bench_coregister.py [--quick] [--chips 32 64] [--steps 10] [--rounds 3]
                                          [--out PATH]
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
from scipy.signal.windows import tukey
from skimage.registration import phase_cross_correlation

from satsr import __version__
from satsr._atomic import write_text
from satsr.fetch.coregister import degrade, estimate_shifts

REPO = Path(__file__).resolve().parents[1]
S2 = "l8s2/2023-10-09-22-28-02_S2_ms.tif"
MARGIN = 6
TOLERANCE_PX = 0.005


def shifted_stack(path: Path, chip: int, margin: int, steps: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ref (B, chip, chip), ref_hr (B, 3·chip, 3·chip), mov (B, chip+2m, chip+2m), truth (B, 2)
    LR px) from the real image."""
    with rasterio.open(path) as ds:
        img = ds.read([1, 2, 3, 4]).astype(np.float64).mean(axis=0) / 1e4
    img = img[:438, 1:439]  # column 0 and the last row are nodata
    lr_ref = degrade(img, 3)
    n = lr_ref.shape[0]
    starts = np.linspace(margin + 2, n - chip - margin - 2, 3).astype(int)
    refs, hrs, movs, truth = [], [], [], []
    for ty in np.linspace(-2, 2, steps):
        for tx in np.linspace(-2, 2, steps):
            lr_mov = degrade(ndimage.shift(img, (3 * ty, 3 * tx), order=3, mode="nearest"), 3)
            for r in starts:
                for c in starts:
                    refs.append(lr_ref[r:r + chip, c:c + chip])
                    hrs.append(img[3 * r:3 * (r + chip), 3 * c:3 * (c + chip)])
                    movs.append(lr_mov[r - margin:r + chip + margin, c - margin:c + chip + margin])
                    truth.append((ty, tx))
    return np.stack(refs), np.stack(hrs), np.stack(movs), np.array(truth)


def timed(fn: Callable[[], np.ndarray], rounds: int) -> tuple[float, np.ndarray]:
    """Best wall time of ``rounds`` calls, and the last result."""
    best, out = np.inf, np.zeros(0)
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def methods(ref: np.ndarray, ref_hr: np.ndarray, mov: np.ndarray
            ) -> dict[str, Callable[[], np.ndarray]]:
    """Name → callable returning (B, 2) shifts in satsr's convention."""
    core = mov[:, MARGIN:-MARGIN, MARGIN:-MARGIN]
    side = ref.shape[-1]
    win = np.outer(tukey(side, 0.3), tukey(side, 0.3))

    def satsr(**kw: object) -> Callable[[], np.ndarray]:
        def run() -> np.ndarray:
            r = estimate_shifts(ref, mov, margin=MARGIN, **kw)  # type: ignore[arg-type]
            return np.stack([r.dy, r.dx], axis=1)
        return run

    def skimage(up: int, windowed: bool) -> Callable[[], np.ndarray]:
        def prep(a: np.ndarray) -> np.ndarray:
            return (a - a.mean()) * win if windowed else a

        def run() -> np.ndarray:
            # skimage returns the shift that registers moving onto reference: the negative of
            # satsr's displacement convention
            return np.stack([-phase_cross_correlation(prep(a), prep(b), upsample_factor=up)[0]
                             for a, b in zip(ref, core, strict=True)])
        return run

    return {"satsr_full": satsr(ref_hr=ref_hr), "satsr_full_lr": satsr(),
            "satsr_pc": satsr(refine_iters=0),
            "skimage_u20": skimage(20, False), "skimage_u100": skimage(100, False),
            "skimage_window_u20": skimage(20, True)}


def equal_accuracy(rows: dict[str, dict[str, float]]) -> dict[str, dict[str, object]]:
    """For each skimage variant: the fastest satsr method at least as accurate, and the speed-up."""
    out: dict[str, dict[str, object]] = {}
    ours = {k: v for k, v in rows.items() if k.startswith("satsr")}
    for name, ref in rows.items():
        if not name.startswith("skimage"):
            continue
        ok = [k for k, v in ours.items()
              if v["median_err_px"] <= ref["median_err_px"] + TOLERANCE_PX
              and v["p95_err_px"] <= ref["p95_err_px"] + TOLERANCE_PX]
        best = max(ok, key=lambda k: ours[k]["chips_per_s"]) if ok else None
        out[name] = {"satsr_method": best,
                     "speedup": round(ours[best]["chips_per_s"] / ref["chips_per_s"], 2) if best else None}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="7x7 offsets, 32-px chips, 1 round")
    parser.add_argument("--chips", type=int, nargs="+", default=[32, 64],
                        help="LR chip sides (px); 64 is satsr fetch's default")
    parser.add_argument("--steps", type=int, default=10, help="offsets per axis over ±2 LR px")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON path (default benchmarks/results_speed/coregister.json)")
    args = parser.parse_args()
    steps, rounds, chips = (7, 1, [32]) if args.quick else (args.steps, args.rounds, args.chips)
    out = args.out or (Path(tempfile.gettempdir()) / "satsr_bench_coregister_quick.json"
                       if args.quick else REPO / "benchmarks/results_speed/coregister.json")
    data = Path(os.environ.get("SATSR_TEST_DATA", REPO.parent / "shared" / "data"))
    torch.set_num_threads(1)
    result: dict[str, object] = {
        "satsr_version": __version__, "offsets": f"{steps}x{steps} over ±2 LR px", "threads": 1,
        "equal_accuracy_tolerance_px": TOLERANCE_PX, "machine": platform.machine(),
        "python": platform.python_version(), "torch": torch.__version__,
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }
    sizes = {}
    for chip in chips:
        ref, ref_hr, mov, truth = shifted_stack(data / S2, chip, MARGIN, steps)
        rows: dict[str, dict[str, float]] = {}
        for name, fn in methods(ref, ref_hr, mov).items():
            secs, est = timed(fn, rounds)
            err = np.hypot(*(est - truth).T)
            rows[name] = {"chips_per_s": round(len(ref) / secs, 1),
                          "median_err_px": round(float(np.median(err)), 4),
                          "p95_err_px": round(float(np.percentile(err, 95)), 4)}
            print(f"{chip:3d} px  {name:19s} {rows[name]['chips_per_s']:9.1f} chips/s   median "
                  f"{rows[name]['median_err_px']:.4f} px   p95 {rows[name]['p95_err_px']:.4f} px")
        pairs = equal_accuracy(rows)
        best_sk = min((k for k in rows if k.startswith("skimage")),
                      key=lambda k: (rows[k]["p95_err_px"], rows[k]["median_err_px"]))
        sizes[str(chip)] = {"chips": len(ref), "methods": rows, "equal_accuracy": pairs,
                            "most_accurate_skimage": best_sk,
                            "speedup_at_equal_accuracy": pairs[best_sk]["speedup"]}
        for k, v in pairs.items():
            print(f"        vs {k:19s}: {v['satsr_method']} {v['speedup']}x")
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    result["chip_sizes"] = sizes
    write_text(out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
