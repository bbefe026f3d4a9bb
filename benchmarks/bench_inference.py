"""Inference throughput per model on CPU, and the bench harness's overhead over a bare loop.

Throughput: megapixels of SR output per second for every registered model at a fixed LR size
(default 64×64, 9 frames, batch 4, the ``small`` preset for learned models unless
``--preset default``).

Harness overhead: for one model, the time ``satsr.bench.run.run_model_on_dataset`` takes over a
sample-schema dataset (xarray → tensors, forward, PSNR/SSIM/cPSNR scoring, records) against a bare
``model(lr, lr_mask, frame_valid)`` loop over the same, preloaded tensors, in the same process.
The target is ≤ 10 % for a learned model of realistic cost (the published configuration); for
the tiny CPU presets the fixed per-scene scoring cost (SSIM, cPSNR) is a larger share.

    python benchmarks/bench_inference.py [--quick] [--out benchmarks/results_speed/inference.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from satsr import schema
from satsr._atomic import write_text
from satsr.batch import iter_batches
from satsr.bench.run import run_model_on_dataset
from satsr.bench.specs import ResolvedModel
from satsr.models import count_parameters, create_model, list_models, model_info


def make_dataset(n_scene: int, frames: int, size: int, scale: int, seed: int = 0) -> Any:
    """A random sample-schema dataset (the harness cost does not depend on the content)."""
    rng = np.random.default_rng(seed)
    hr = rng.random((n_scene, 1, size * scale, size * scale), dtype=np.float32) * 0.25
    lr = rng.random((n_scene, frames, 1, size, size), dtype=np.float32) * 0.25
    return schema.build(
        lr=lr, lr_mask=rng.random((n_scene, frames, size, size)) > 0.05, hr=hr,
        hr_mask=rng.random((n_scene, size * scale, size * scale)) > 0.02,
        scene_ids=[f"s{i:03d}" for i in range(n_scene)], bands=["RED"], split="test",
        scale=scale, dataset="bench-inference", value_scale="uint16/65535", synthetic=True,
        extra_vars={"norm": (("scene",), np.full(n_scene, 45.0))})


def best_of(fn: Any, repeats: int) -> float:
    """Best wall time of ``repeats`` calls (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def build(name: str, preset: str, frames: int) -> torch.nn.Module:
    info = model_info(name)
    kwargs: dict[str, Any] = {"scale": 3, "in_channels": 1}
    if info.kind == "multi":
        kwargs["num_frames"] = frames
    if info.learned and preset != "default" and preset in info.presets:
        kwargs["preset"] = preset
    return create_model(name, **kwargs).eval()


def throughput(args: argparse.Namespace) -> list[dict[str, Any]]:
    lr = torch.rand(args.batch, args.frames, 1, args.size, args.size) * 0.25
    mask = torch.rand(args.batch, args.frames, args.size, args.size) > 0.05
    valid = torch.ones(args.batch, args.frames, dtype=torch.bool)
    rows = []
    for name in list_models(args.models):
        model = build(name, args.preset, args.frames)
        with torch.inference_mode():
            seconds = best_of(lambda m=model: m(lr, mask, valid), args.repeats)
        mpx = args.batch * (3 * args.size) ** 2 / 1e6
        rows.append({"model": name, "kind": model_info(name).kind,
                     "params": count_parameters(model), "seconds": seconds,
                     "mpx_per_s": mpx / seconds})
        print(f"{name:22s} {rows[-1]['params']:>10,d} params  {rows[-1]['mpx_per_s']:8.3f} Mpx/s")
    return rows


def overhead(args: argparse.Namespace, preset: str) -> dict[str, Any]:
    ds = make_dataset(args.scenes, args.frames, args.size, 3)
    model = build(args.overhead_model, preset, args.frames)
    batches = list(iter_batches(ds, args.batch))
    resolved = ResolvedModel(args.overhead_model, model, None)  # type: ignore[arg-type]

    def bare() -> None:
        with torch.inference_mode():
            for b in batches:
                model(b.lr, b.lr_mask, b.frame_valid)

    def harness() -> None:
        run_model_on_dataset(resolved, ds, done=set(), batch_size=args.batch, device="cpu")

    t_bare = best_of(bare, args.repeats)
    t_harness = best_of(harness, args.repeats)
    ratio = t_harness / t_bare - 1
    print(f"harness overhead for {args.overhead_model} ({preset}): bare {t_bare:.3f} s, "
          f"harness {t_harness:.3f} s → {100 * ratio:+.1f} %")
    return {"model": args.overhead_model, "preset": preset, "scenes": args.scenes,
            "bare_s": t_bare, "harness_s": t_harness, "overhead": ratio}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=64, help="LR side in pixels")
    p.add_argument("--frames", type=int, default=9)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--scenes", type=int, default=16, help="scenes for the overhead run")
    p.add_argument("--preset", default="small", help="'small' or 'default' for learned models")
    p.add_argument("--models", default=None, help="wildcard over model names")
    p.add_argument("--overhead-model", default="edsr-baseline")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="LR 32×32, 8 scenes, 1 repeat")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results_speed/inference.json"))
    args = p.parse_args()
    if args.quick:
        args.size, args.scenes, args.repeats = 32, 8, 1
    torch.manual_seed(0)
    result = {
        "benchmark": "inference", "threads": torch.get_num_threads(),
        "platform": platform.platform(), "torch": torch.__version__,
        "lr_size": args.size, "frames": args.frames, "batch": args.batch, "preset": args.preset,
        "throughput": throughput(args),
        # the harness cost (scoring) is fixed per scene, so its share depends on model cost:
        # report it for the CPU-sized preset and for the published configuration
        "harness_overhead": [overhead(args, "small"), overhead(args, "default")],
    }
    write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
