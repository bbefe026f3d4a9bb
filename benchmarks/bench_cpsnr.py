"""cPSNR scoring speed: batched torch (``satsr.metrics.cpsnr``) vs a per-shift NumPy loop.

A batch of ``--batch`` random 384×384 images (HR uniform on the PROBA-V value range, SR = HR
displaced by one pixel plus bias and noise, masks ~95 % clear) is scored in the same process
by both implementations; the NumPy loop is the plain transcription of the challenge definition
(49 shifts, boolean indexing), the one ``tests/metrics/test_cpsnr.py`` checks against. Prints
images/s for each (torch on 1 thread, like the NumPy loop, and on ``--threads``), their ratios,
the largest disagreement (dB) and the machine's load average, and writes them as JSON.

    python benchmarks/bench_cpsnr.py [--quick] [--batch 64] [--rounds 3] [--threads N] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from satsr import __version__
from satsr._atomic import write_text
from satsr.metrics import cmse_per_shift, cpsnr

REPO = Path(__file__).resolve().parents[1]


def reference_cpsnr(sr: np.ndarray, hr: np.ndarray, sm: np.ndarray, border: int = 3) -> float:
    """cPSNR of 2-D arrays by the challenge definition: 49 shifts, bias removed, best cMSE."""
    size_h, size_w = hr.shape
    h, w = size_h - 2 * border, size_w - 2 * border
    cropped = sr[border:border + h, border:border + w]
    best = np.inf
    for u in range(2 * border + 1):
        for v in range(2 * border + 1):
            clear = sm[u:u + h, v:v + w]
            if not clear.any():
                continue
            diff = hr[u:u + h, v:v + w][clear] - cropped[clear]
            best = min(best, float(np.mean((diff - diff.mean()) ** 2)))
    return float(-10 * np.log10(best))


def make_batch(n: int, size: int, clear: float, seed: int = 0
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(SR, HR, SM) arrays of shape (n, size, size); values on the uint16/65535 scale."""
    rng = np.random.default_rng(seed)
    hr = rng.random((n, size, size)) * (16383 / 65535)
    sr = np.roll(hr, (1, -1), axis=(1, 2)) + 0.002 + rng.normal(0, 0.003, hr.shape)
    sm = rng.random((n, size, size)) < clear
    return sr, hr, sm


def _timings(fn, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="8 images, 1 round: a smoke run (does not overwrite the default "
                             "--out unless given explicitly)")
    parser.add_argument("--batch", type=int, default=64, help="images scored per call")
    parser.add_argument("--size", type=int, default=384, help="image side (px)")
    parser.add_argument("--clear", type=float, default=0.95, help="fraction of clear pixels")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per implementation")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="torch intra-op threads for the multi-threaded run (torch's default "
                             "here); torch is also timed on 1 thread, like the NumPy loop")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON path (default benchmarks/results_speed/cpsnr.json)")
    args = parser.parse_args()
    if args.quick:
        args.batch, args.rounds = min(args.batch, 8), 1
    out = args.out or (Path(tempfile.gettempdir()) / "satsr_bench_cpsnr_quick.json"
                       if args.quick else REPO / "benchmarks/results_speed/cpsnr.json")
    sr, hr, sm = make_batch(args.batch, args.size, args.clear)
    t_sr, t_hr = torch.from_numpy(sr[:, None]), torch.from_numpy(hr[:, None])
    t_sm = torch.from_numpy(sm)

    times: dict[str, list[float]] = {}
    torch_values = cpsnr(t_sr, t_hr, t_sm)  # warm-up, and the values to compare
    for threads in sorted({1, args.threads}):
        torch.set_num_threads(threads)
        times[f"torch_{threads}t"] = _timings(lambda: cpsnr(t_sr, t_hr, t_sm), args.rounds)
        times[f"grid_{threads}t"] = _timings(lambda: cmse_per_shift(t_sr, t_hr, t_sm),
                                             args.rounds)
    numpy_values = np.array([reference_cpsnr(sr[i], hr[i], sm[i]) for i in range(args.batch)])
    times["numpy"] = _timings(lambda: [reference_cpsnr(sr[i], hr[i], sm[i])
                                       for i in range(args.batch)], args.rounds)
    rate = {k: args.batch / statistics.median(v) for k, v in times.items()}
    ratio = {k: round(rate[k] / rate["numpy"], 2) for k in rate if k.startswith("torch")}
    diff = float(np.abs(torch_values.numpy() - numpy_values).max())
    result = {
        "benchmark": "cpsnr",
        "batch": args.batch,
        "size": args.size,
        "clear_fraction": float(sm.mean()),
        "rounds": args.rounds,
        "quick": args.quick,
        "images_per_s": {k: round(v, 2) for k, v in rate.items()},
        "ratio_torch_over_numpy": ratio,
        "max_abs_diff_db": diff,
        "seconds": {k: [round(x, 4) for x in v] for k, v in times.items()},
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "torch": torch.__version__,
                    "numpy": np.__version__},
        "satsr_version": __version__,
    }
    print(f"cPSNR of {args.batch} images {args.size}x{args.size}, "
          f"{100 * sm.mean():.1f} % clear, median of {args.rounds} round(s)")
    print(f"  {'implementation':<44}{'images/s':>10}{'vs NumPy':>10}")
    for key, label in (("torch", "satsr cpsnr (batched torch)"),
                       ("grid", "satsr cmse_per_shift (grid only)")):
        for k in (k for k in rate if k.startswith(key)):
            threads = k.rsplit("_", 1)[1][:-1]
            print(f"  {label + f', {threads} thread(s)':<44}{rate[k]:>10.1f}"
                  f"{rate[k] / rate['numpy']:>9.1f}x")
    print(f"  {'per-shift NumPy loop (1 thread)':<44}{rate['numpy']:>10.1f}{1.0:>9.1f}x")
    print(f"  largest disagreement {diff:.2e} dB; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs")
    write_text(out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
