"""Training-loop throughput: ``satsr train`` vs a bare loop over pre-loaded tensors.

``satsr.train.train`` runs the recipe of the shipped ``edsr-baseline`` weights
(``benchmarks/recipes/edsr-baseline.yaml``: small preset, L1, 16-px LR patches, batch 8, mean
adapter over the 3 clearest frames, 1 thread) for ``--steps`` steps with one validation and
checkpoint at the end. The bare loop is the same model, loss, Adam and gradient clipping over
batches drawn beforehand from the same sampler (no sampling, augmentation or bookkeeping in
the timed part). The ratio of steps/s (satsr / bare; target ≥ 0.9) says whether the loader
and the loop starve the model. Validation and checkpoint time are timed separately (wrapping
``satsr.train.loop.validate``, ``save_state`` and ``save_weights``) and excluded from the loop's
steps/s. Each side runs ``--rounds`` times after a warm-up; medians, spread (±20 % flagged) and
CPU time are recorded.

    python benchmarks/bench_train_loop.py [--quick] [--steps 60] [--rounds 3] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import yaml

import satsr.models.weights as weights_mod
import satsr.train.loop as loop
from satsr._atomic import write_text
from satsr.bench.timing import Timing, machine_facts, time_call
from satsr.models import create_model
from satsr.models.weights import set_normalisation
from satsr.train.data import PatchSampler
from satsr.train.losses import get_loss

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "benchmarks/recipes/edsr-baseline.yaml"
TARGET = 0.9


def config(steps: int, out: Path) -> loop.TrainConfig:
    """The shipped edsr-baseline recipe, shortened to ``steps`` with one validation."""
    recipe = yaml.safe_load(RECIPE.read_text())
    recipe.update(steps=steps, val_every=steps, out=str(out), progress=False)
    return loop.TrainConfig(**recipe)


class _Stopwatch:
    """Wraps module functions and sums the wall and CPU seconds spent in them."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu = 0.0

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0
                self.cpu += time.process_time() - c0
        return timed


def satsr_loop(cfg: loop.TrainConfig) -> dict[str, float]:
    """Run ``satsr.train.train``; seconds in the step loop, in validation, in checkpoints.

    The loop's CPU time is the run's minus data loading, validation and checkpoints (model
    creation stays in, so it slightly overstates the loop's cost).
    """
    val, ckpt, data = _Stopwatch(), _Stopwatch(), _Stopwatch()
    saved = loop.validate, loop.save_state, weights_mod.save_weights, loop.load_split
    loop.validate = val.wrap(loop.validate)  # type: ignore[assignment]
    loop.save_state = ckpt.wrap(loop.save_state)  # type: ignore[assignment]
    weights_mod.save_weights = ckpt.wrap(weights_mod.save_weights)  # type: ignore[assignment]
    loop.load_split = data.wrap(loop.load_split)  # type: ignore[assignment]
    c0 = time.process_time()
    try:
        result = loop.train(cfg)
    finally:
        (loop.validate, loop.save_state, weights_mod.save_weights,  # type: ignore[misc]
         loop.load_split) = saved
    cpu = time.process_time() - c0 - val.cpu - ckpt.cpu - data.cpu
    # history "seconds" runs from the loop's start to the end of the last validation
    step_s = float(result.history[-1]["seconds"]) - val.seconds
    return {"loop_s": step_s, "loop_cpu_s": cpu, "validation_s": val.seconds,
            "checkpoint_s": ckpt.seconds}


def bare_loop(cfg: loop.TrainConfig) -> Callable[[], None]:
    """A function running ``cfg.steps`` plain steps over batches drawn beforehand."""
    torch.manual_seed(cfg.seed)
    scenes = loop.load_split(cfg, "train")
    model = create_model(cfg.model, scale=scenes.scale, in_channels=int(scenes.lr.shape[2]),
                         num_frames=cfg.frames, preset=cfg.preset, **cfg.hparams)
    set_normalisation(model, *loop.input_statistics(scenes))
    sampler = PatchSampler(scenes, patch=cfg.patch, batch_size=cfg.batch, frames=cfg.frames,
                           augment=cfg.augment, generator=torch.Generator().manual_seed(0))
    batches = [sampler.sample() for _ in range(int(cfg.steps or 1))]
    loss_fn = get_loss(cfg.loss)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    model.train()

    def run() -> None:
        for b in batches:
            sr = model(b.lr, b.lr_mask, b.frame_valid)
            loss = loss_fn(sr, b.hr, b.hr_mask)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="10 steps, 1 round (writes to a temporary file unless --out)")
    parser.add_argument("--steps", type=int, default=60, help="optimizer steps per run")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per side")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON path (default benchmarks/results_speed/train_loop.json)")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.rounds = min(args.steps, 10), 1
    out = args.out or (Path(tempfile.gettempdir()) / "satsr_bench_train_loop_quick.json"
                       if args.quick else REPO / "benchmarks/results_speed/train_loop.json")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config(args.steps, Path(tmp) / "run")
        threads = int(cfg.threads or torch.get_num_threads())
        runs, bare_runs = [], []
        bare = bare_loop(cfg)
        for i in range(args.rounds + 1):  # alternate, so both sides see the same load
            cfg.out = str(Path(tmp) / f"run{i}")
            runs.append(satsr_loop(cfg))
            bare_runs.append(time_call(bare, repeats=1, warmup=0, threads=threads))
        runs, bare_runs = runs[1:], bare_runs[1:]  # the first round is a warm-up
    loop_s = [r["loop_s"] for r in runs]
    med = statistics.median(loop_s)
    bare_t = Timing(tuple(t.wall_s[0] for t in bare_runs), tuple(t.cpu_s[0] for t in bare_runs),
                    threads)
    satsr_rate, bare_rate = args.steps / med, args.steps / bare_t.median_s
    cpu_ratio = bare_t.cpu_median_s / statistics.median(r["loop_cpu_s"] for r in runs)
    spread = max(abs(t - med) for t in loop_s) / med
    result = {
        "benchmark": "train_loop", "model": cfg.model, "preset": cfg.preset,
        "recipe": str(RECIPE.relative_to(REPO)), "steps": args.steps, "rounds": args.rounds,
        "threads": threads, "quick": args.quick, "target_ratio": TARGET,
        "satsr_steps_per_s": round(satsr_rate, 2), "bare_steps_per_s": round(bare_rate, 2),
        "ratio_satsr_over_bare": round(satsr_rate / bare_rate, 3),
        "ratio_satsr_over_bare_cpu": round(cpu_ratio, 3),
        "satsr_loop_s": [round(t, 3) for t in loop_s], "satsr_spread": round(spread, 4),
        "satsr_noisy": spread > 0.2,
        "validation_s": round(statistics.median(r["validation_s"] for r in runs), 3),
        "checkpoint_s": round(statistics.median(r["checkpoint_s"] for r in runs), 3),
        "bare": bare_t.summary(), "machine": machine_facts(),
    }
    print(f"train loop, {cfg.model} ({cfg.preset}), {args.steps} steps, {threads} thread(s)")
    print(f"  satsr train : {satsr_rate:6.2f} steps/s (validation {result['validation_s']} s, "
          f"checkpoint {result['checkpoint_s']} s, excluded)")
    print(f"  bare loop   : {bare_rate:6.2f} steps/s")
    print(f"  ratio       : {satsr_rate / bare_rate:.3f} (CPU time {cpu_ratio:.3f}; target >= "
          f"{TARGET})")
    write_text(out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
