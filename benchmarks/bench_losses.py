"""Training-loss speed: forward + backward of cMSE / cL1 (and L1-SSIM) against plain MSE.

On a float32 training batch (16 × 1 × 384² and 64 × 1 × 96², HR on the PROBA-V value range,
SR = HR displaced by one pixel plus noise, ~95 % clear masks), each loss is evaluated and
back-propagated to SR; the table reports milliseconds per batch and the ratio to ``mse`` on the
same batch (target: cMSE and cL1 ≤ 4×). cMSE/cL1 are :func:`satsr.metrics.corrected_error`,
the code ``cpsnr`` scores with: the compiled kernel picks the shift (no gradient needed), then
evaluates that shift's error and, in the backward pass, writes its gradient in one pass — so
backward costs about what MSE's does. One warm-up, then the median of ``--rounds`` runs (spread recorded, ±20 % flagged).

    python benchmarks/bench_losses.py [--quick] [--rounds 7] [--threads N] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from functools import partial
from pathlib import Path

import torch

from satsr._atomic import write_text
from satsr.bench.timing import machine_facts, time_call
from satsr.train.losses import get_loss

REPO = Path(__file__).resolve().parents[1]
BATCHES = ((16, 384), (64, 96))
LOSSES = ("mse", "cmse", "cl1", "l1-ssim")
TARGET = 4.0


def make_batch(n: int, size: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """(SR, HR, mask): float32 (n, 1, size, size) images and an (n, size, size) clear mask."""
    g = torch.Generator().manual_seed(seed)
    hr = torch.rand(n, 1, size, size, generator=g) * (16383 / 65535)
    sr = torch.roll(hr, (1, -1), dims=(2, 3)) + 0.002 + 0.003 * torch.randn(hr.shape, generator=g)
    mask = torch.rand(n, size, size, generator=g) < 0.95
    return sr, hr, mask


def step(loss: torch.nn.Module, sr: torch.Tensor, hr: torch.Tensor, mask: torch.Tensor) -> None:
    """One forward + backward to a leaf copy of SR (what a training step pays for the loss)."""
    x = sr.detach().requires_grad_(True)
    loss(x, hr, mask).backward()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="quarter batches, 2 rounds (writes to a temporary file unless "
                             "--out is given)")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per loss")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON path (default benchmarks/results_speed/losses.json)")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 2
    out = args.out or (Path(tempfile.gettempdir()) / "satsr_bench_losses_quick.json"
                       if args.quick else REPO / "benchmarks/results_speed/losses.json")
    rows = []
    for n, size in BATCHES:
        n = max(1, n // 4) if args.quick else n
        sr, hr, mask = make_batch(n, size)
        times = {name: time_call(partial(step, get_loss(name), sr, hr, mask),
                                 repeats=args.rounds, threads=args.threads)
                 for name in LOSSES}
        base = times["mse"].median_s
        rows.append({
            "batch": [n, 1, size, size],
            "ms": {k: round(t.median_s * 1e3, 3) for k, t in times.items()},
            "ratio_vs_mse": {k: round(t.median_s / base, 2) for k, t in times.items()},
            "ratio_vs_mse_cpu": {k: round(t.cpu_median_s / times["mse"].cpu_median_s, 2)
                                 for k, t in times.items()},
            "timings": {k: t.summary() for k, t in times.items()},
        })
    result = {"benchmark": "losses", "rounds": args.rounds, "threads": args.threads,
              "quick": args.quick, "target_ratio": TARGET, "rows": rows,
              "machine": machine_facts()}
    print(f"loss forward+backward, float32, {args.threads} thread(s), median of {args.rounds}")
    for r in rows:
        cells = "  ".join(f"{k} {r['ms'][k]:.1f} ms ({r['ratio_vs_mse'][k]:.2f}x)" for k in LOSSES)
        print(f"  {'x'.join(map(str, r['batch'])):<14} {cells}")
    write_text(out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
