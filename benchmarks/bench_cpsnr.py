"""cPSNR scoring speed: batched ``satsr.metrics.cpsnr`` vs a numba per-image, per-shift loop.

The reference is the official scorer's approach, compiled with numba: for each image and each
of the 49 shifts, one pass over the window for the bias and a second for the cMSE (a plain
transcription of the definition, single-threaded). Both run in this process on the same
images; the table reports images/s, the ratio satsr / numba on 1 and 2 torch threads, and the
largest disagreement in dB. Cases: synthetic 384² images with ~95 % clear masks and with no
mask (the all-clear fast path), synthetic 128² images, and the real shared PROBA-V scenes
(HR, SM and the organisers' mean-bicubic baseline SR) when ``$SATSR_TEST_DATA`` has them.

Lower bound per image (the "roofline"). With h×w = (H−6)×(W−6) scored pixels, the direct
definition costs, per shift and pixel, one multiply-add for Σ M·HR·SR and, with a mask, two
more for Σ M·SR and Σ M·SR² (the HR-only terms are box sums, O(H·W)): 49·378² = 7.0 M per term
at 384², 0.73 M at 128² — 21 M masked at 384², about 1.0 ms of one core in float64 (8 FMA per
cycle at ~2.6 GHz: AVX-512 run as two 256-bit pipes on this AMD EPYC). The algorithm satsr runs
needs less, and its bound is the one reported (``bound_ms_per_image``):

- the cross term as a **float32** correlation (the shift is only *selected* from it, under a
  rigorous rounding bound): 49·h·w FMAs at 16 per cycle → 0.168 ms at 384², 0.018 ms at 128²;
- Σ M·SR and Σ M·SR² as the all-clear totals minus what each **cloudy** pixel hides: 2·49 adds
  per cloudy pixel, float64 at 8 per cycle → 0.035 ms at 384² with 5 % cloud, 0.004 at 128²;
- the exact float64 evaluation of the chosen shift, one pass of ~3 operations per pixel
  (0.021 ms at 384²);
- bytes: SR and HR in float64 and a bool mask read once, 17 B per pixel = 2.5 MB at 384²
  (0.125 ms at ~20 GB/s) — below the arithmetic, so the bound is compute: 0.22 ms masked,
  0.19 ms all clear at 384², 0.024 ms masked at 128².

The JSON reports the fraction of that bound each measured time reaches. Where the rest goes
(384², 5 % random cloud, one image, 1 thread, ~0.61 ms per image in the kernel): the float32
correlation 0.20 ms (bound 0.17: each pass loads eight shifted HR rows for two SR rows), the
sparse corrections 0.23 ms (scattered 8-wide updates per cloudy pixel and shift row:
latency-bound, not vectorised), centring into float32 planes 0.05, box sums 0.05, the cloud
list 0.04 and the exact evaluation 0.03 ms. Random per-pixel clouds are the worst case for the corrections; real
status maps are clustered and cheaper. Off the CPU (``cpsnr`` on a GPU) the estimate comes from
float32 FFTs instead; that path is not timed here.

On two threads each thread scores a contiguous block of images. torch's OpenMP threads spin
for several milliseconds after any tensor operation and compete with them for the cores; the
scoring path therefore avoids tensor operations around the kernel (the ratios on two threads
are those of back-to-back calls: right after other torch work they are lower).

Timings: one warm-up, then the median of ``--rounds`` runs (wall clock, spread recorded and
rows over ±20 % flagged); CPU time is recorded too, as the machine may be shared.

    python benchmarks/bench_cpsnr.py [--quick] [--batch 32] [--rounds 5] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import numba
import numpy as np
import torch
from PIL import Image

from satsr._atomic import write_text
from satsr.bench.timing import machine_facts, time_call
from satsr.metrics import cpsnr

REPO = Path(__file__).resolve().parents[1]
REAL_SCENES = ("train/RED/imgset0000", "train/NIR/imgset0594")
CLOCK = 2.6e9  # cycles per second of one core (see the docstring)
F32_FMA_PER_S = 16 * CLOCK  # float32 FMAs per second (AVX-512 as two 256-bit pipes)
F64_OPS_PER_S = 8 * CLOCK  # float64 adds/FMAs per second
BYTES_PER_S = 20e9


@numba.njit(cache=True)
def reference_cmse_min(sr: np.ndarray, hr: np.ndarray, sm: np.ndarray, border: int) -> float:
    """Minimum over the 49 shifts of the bias-corrected masked MSE (two passes per shift)."""
    size_h, size_w = hr.shape
    h, w = size_h - 2 * border, size_w - 2 * border
    best = np.inf
    for u in range(2 * border + 1):
        for v in range(2 * border + 1):
            n, total = 0, 0.0
            for y in range(h):
                for x in range(w):
                    if sm[u + y, v + x]:
                        n += 1
                        total += hr[u + y, v + x] - sr[border + y, border + x]
            if n == 0:
                continue
            bias, sq = total / n, 0.0
            for y in range(h):
                for x in range(w):
                    if sm[u + y, v + x]:
                        d = hr[u + y, v + x] - sr[border + y, border + x] - bias
                        sq += d * d
            best = min(best, sq / n)
    return best


def reference_cpsnr(sr: np.ndarray, hr: np.ndarray, sm: np.ndarray) -> np.ndarray:
    """cPSNR (dB) of each (N, H, W) image by the numba loop, one image after another."""
    out = np.empty(len(hr))
    for i in range(len(hr)):
        with np.errstate(divide="ignore"):
            out[i] = -10 * np.log10(reference_cmse_min(sr[i], hr[i], sm[i], 3))
    return out


def synthetic(n: int, size: int, clear: float, seed: int = 0
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(SR, HR, SM) of shape (n, size, size): HR uniform on the PROBA-V value range, SR = HR
    displaced by one pixel plus a bias and noise, masks ``clear`` clear (1.0 = all clear)."""
    rng = np.random.default_rng(seed)
    hr = rng.random((n, size, size)) * (16383 / 65535)
    sr = np.roll(hr, (1, -1), axis=(1, 2)) + 0.002 + rng.normal(0, 0.003, hr.shape)
    sm = rng.random((n, size, size)) < clear if clear < 1 else np.ones(hr.shape, bool)
    return sr, hr, sm


def real_scenes(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The shared PROBA-V scenes (HR, SM, mean-bicubic SR), repeated to ``n`` images."""
    from satsr.models import create_model

    root = Path(os.environ.get("SATSR_TEST_DATA", REPO.parent / "shared" / "data")) / "probav"
    if not all((root / s / "HR.png").exists() for s in REAL_SCENES):
        return None
    srs, hrs, sms = [], [], []
    model = create_model("mean-bicubic")
    for scene in REAL_SCENES:
        folder = root / scene
        lr_paths = sorted(folder.glob("LR*.png"))
        lr = np.stack([np.asarray(Image.open(p), dtype=np.float64) / 65535 for p in lr_paths])
        qm = np.stack([np.asarray(Image.open(p.with_name("QM" + p.name[2:]))).astype(bool)
                       for p in lr_paths])
        with torch.no_grad():
            sr = model(torch.from_numpy(lr)[None, :, None], torch.from_numpy(qm)[None])
        srs.append(sr[0, 0].numpy())
        hrs.append(np.asarray(Image.open(folder / "HR.png"), dtype=np.float64) / 65535)
        sms.append(np.asarray(Image.open(folder / "SM.png")).astype(bool))
    reps = -(-n // len(srs))
    return tuple(np.stack(x * reps)[:n] for x in (srs, hrs, sms))  # type: ignore[return-value]


def bound_s(size: int, cloud_fraction: float) -> float:
    """The per-image lower bound of the docstring for satsr's algorithm, in seconds."""
    h = size - 6
    compute = (49 * h * h / F32_FMA_PER_S  # float32 cross-correlation
               + 2 * 49 * cloud_fraction * size * size / F64_OPS_PER_S  # per-cloud corrections
               + 3 * h * h / F64_OPS_PER_S)  # exact evaluation of the chosen shift
    memory = size * size * (17 if cloud_fraction > 0 else 16) / BYTES_PER_S
    return max(compute, memory)


def run_case(name: str, arrays: tuple[np.ndarray, np.ndarray, np.ndarray], *, masked: bool,
             rounds: int) -> dict[str, object]:
    """Time the numba loop and satsr (1 and 2 threads) on one set of images."""
    sr, hr, sm = arrays
    n, size = len(hr), hr.shape[-1]
    t_sr, t_hr = torch.from_numpy(sr[:, None]), torch.from_numpy(hr[:, None])
    t_sm = torch.from_numpy(sm) if masked else None
    want = reference_cpsnr(sr, hr, sm)
    got = cpsnr(t_sr, t_hr, t_sm).numpy()
    diff = float(np.max(np.abs(np.where(np.isinf(want) & np.isinf(got), 0.0, got - want))))
    timings = {"numba_1t": time_call(lambda: reference_cpsnr(sr, hr, sm), repeats=rounds)}
    for threads in (1, 2):
        timings[f"satsr_{threads}t"] = time_call(lambda: cpsnr(t_sr, t_hr, t_sm),
                                                 repeats=rounds, threads=threads)
    ref = timings["numba_1t"]
    bound = bound_s(size, 1.0 - float(sm.mean()) if masked else 0.0)
    return {
        "case": name, "images": n, "size": size, "masked": masked,
        "clear_fraction": round(float(sm.mean()), 4), "max_abs_diff_db": diff,
        "images_per_s": {k: round(n / t.median_s, 2) for k, t in timings.items()},
        "ratio_vs_numba": {k: round(ref.median_s / t.median_s, 2)
                           for k, t in timings.items() if k != "numba_1t"},
        "ratio_vs_numba_cpu": {k: round(ref.cpu_median_s / t.cpu_median_s, 2)
                               for k, t in timings.items() if k.endswith("_1t")},
        "bound_ms_per_image": round(bound * 1e3, 3),
        "fraction_of_bound": {k: round(bound / (t.median_s / n), 3)
                              for k, t in timings.items()},
        "timings": {k: t.summary(per=n) for k, t in timings.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="4 images per case, 2 rounds: a smoke run (writes to a temporary "
                             "file unless --out is given)")
    parser.add_argument("--batch", type=int, default=32, help="images per case")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per implementation")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON path (default benchmarks/results_speed/cpsnr.json)")
    args = parser.parse_args()
    if args.quick:
        args.batch, args.rounds = min(args.batch, 4), 2
    out = args.out or (Path(tempfile.gettempdir()) / "satsr_bench_cpsnr_quick.json"
                       if args.quick else REPO / "benchmarks/results_speed/cpsnr.json")
    n = args.batch
    cases = [("synthetic 384², 95 % clear", synthetic(n, 384, 0.95), True),
             ("synthetic 384², no mask", synthetic(n, 384, 1.0), False),
             ("synthetic 128², 95 % clear", synthetic(4 * n, 128, 0.95), True)]
    real = real_scenes(n)
    if real is not None:
        cases.append(("real PROBA-V scenes, SM masks", real, True))
    rows = [run_case(name, arrays, masked=masked, rounds=args.rounds)
            for name, arrays, masked in cases]
    result = {"benchmark": "cpsnr", "rounds": args.rounds, "quick": args.quick,
              "target_ratio": 10.0, "cases": rows, "machine": machine_facts(),
              "numba": numba.__version__}
    print(f"cPSNR, median of {args.rounds} rounds (images/s; ratio vs the numba loop)")
    for r in rows:
        ips, ratio = r["images_per_s"], r["ratio_vs_numba"]
        assert isinstance(ips, dict) and isinstance(ratio, dict)
        print(f"  {r['case']:<34} numba {ips['numba_1t']:>8.1f}  satsr 1t {ips['satsr_1t']:>8.1f}"
              f" ({ratio['satsr_1t']:.1f}x)  2t {ips['satsr_2t']:>8.1f} ({ratio['satsr_2t']:.1f}x)"
              f"  max diff {r['max_abs_diff_db']:.1e} dB")
    write_text(out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
