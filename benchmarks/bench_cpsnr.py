"""cPSNR scoring speed: batched torch (``satsr.metrics.cpsnr``) vs a per-shift NumPy loop.

A batch of ``--batch`` random 384×384 images (HR uniform on the PROBA-V value range, SR = HR
displaced by one pixel plus bias and noise, masks ~95 % clear) is scored in the same process
by both implementations; the NumPy loop is the plain transcription of the challenge definition
(49 shifts, boolean indexing), the one ``tests/metrics/test_cpsnr.py`` checks against. Prints
images/s for each, their ratio and the largest disagreement (dB), and writes them as JSON.

    python benchmarks/bench_cpsnr.py [--quick] [--batch 64] [--rounds 3] [--out PATH]
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


def _best_of(fn, rounds: int) -> list[float]:
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
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's own choice)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON path (default benchmarks/results_speed/cpsnr.json)")
    args = parser.parse_args()
    if args.quick:
        args.batch, args.rounds = min(args.batch, 8), 1
    out = args.out or (Path(tempfile.gettempdir()) / "satsr_bench_cpsnr_quick.json"
                       if args.quick else REPO / "benchmarks/results_speed/cpsnr.json")
    if args.threads:
        torch.set_num_threads(args.threads)

    sr, hr, sm = make_batch(args.batch, args.size, args.clear)
    t_sr, t_hr = torch.from_numpy(sr[:, None]), torch.from_numpy(hr[:, None])
    t_sm = torch.from_numpy(sm)

    torch_values = cpsnr(t_sr, t_hr, t_sm)  # warm-up, and the values to compare
    torch_s = _best_of(lambda: cpsnr(t_sr, t_hr, t_sm), args.rounds)
    grid_s = _best_of(lambda: cmse_per_shift(t_sr, t_hr, t_sm), args.rounds)
    numpy_values = np.array([reference_cpsnr(sr[i], hr[i], sm[i]) for i in range(args.batch)])
    numpy_s = _best_of(lambda: [reference_cpsnr(sr[i], hr[i], sm[i])
                                for i in range(args.batch)], args.rounds)

    rate = {k: args.batch / statistics.median(v)
            for k, v in (("torch", torch_s), ("grid", grid_s), ("numpy", numpy_s))}
    diff = float(np.abs(torch_values.numpy() - numpy_values).max())
    result = {
        "benchmark": "cpsnr",
        "batch": args.batch,
        "size": args.size,
        "clear_fraction": float(sm.mean()),
        "rounds": args.rounds,
        "quick": args.quick,
        "torch_threads": torch.get_num_threads(),
        "torch_images_per_s": round(rate["torch"], 2),
        "cmse_per_shift_images_per_s": round(rate["grid"], 2),
        "numpy_images_per_s": round(rate["numpy"], 2),
        "ratio_torch_over_numpy": round(rate["torch"] / rate["numpy"], 2),
        "max_abs_diff_db": diff,
        "torch_s": [round(x, 4) for x in torch_s],
        "numpy_s": [round(x, 4) for x in numpy_s],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "torch": torch.__version__,
                    "numpy": np.__version__},
        "satsr_version": __version__,
    }
    print(f"cPSNR of {args.batch} images {args.size}x{args.size}, "
          f"{100 * sm.mean():.1f} % clear, median of {args.rounds} round(s), "
          f"{torch.get_num_threads()} torch thread(s)")
    print(f"  {'implementation':<34}{'images/s':>10}")
    print(f"  {'satsr cpsnr (batched torch)':<34}{rate['torch']:>10.1f}")
    print(f"  {'satsr cmse_per_shift (grid only)':<34}{rate['grid']:>10.1f}")
    print(f"  {'per-shift NumPy loop':<34}{rate['numpy']:>10.1f}")
    print(f"  ratio torch/NumPy: {rate['torch'] / rate['numpy']:.1f}x; "
          f"largest disagreement {diff:.2e} dB")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
