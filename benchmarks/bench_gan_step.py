"""GAN step throughput: the 8-conv VGG discriminator (``--disc vgg``, SRGAN/ESRGAN) against the
small 4-conv one (``--disc small``) and against a pixel-loss step, in the same process.

Each side builds a :class:`satsr.train.loop.Trainer` from the recipe of the shipped ``srgan``
weights (``benchmarks/recipes/srgan.yaml``: small preset, 16-px LR patches, batch 8, L1
content loss, 1 thread) with the GAN phase from step 0, and times ``--steps`` calls of
``Trainer.step`` (sampling, forward, discriminator update(s), generator update). ``--n-critic``
sets the discriminator steps per generator step. Sides alternate over ``--rounds`` rounds after
a warm-up, so they see the same machine load; medians, spread and CPU time are recorded.

    python benchmarks/bench_gan_step.py [--quick] [--steps 10] [--rounds 3] [--n-critic 1]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch
import yaml

from satsr._atomic import write_text
from satsr.bench.timing import Timing, machine_facts, time_call
from satsr.train.loop import TrainConfig, Trainer

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "benchmarks/recipes/srgan.yaml"


def trainer(side: str, steps: int, n_critic: int, out: Path) -> Trainer:
    """A Trainer of the srgan recipe: ``side`` is ``vgg``, ``small`` or ``pixel`` (no GAN)."""
    recipe = yaml.safe_load(RECIPE.read_text())
    recipe.update(steps=steps + 1, out=str(out), progress=False, pretrain_fraction=0.0,
                  gan=side != "pixel", disc="small" if side == "small" else "vgg",
                  n_critic=n_critic, val_scenes=1)
    return Trainer(TrainConfig(**recipe))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 steps, 1 round (temp file)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per side")
    parser.add_argument("--n-critic", type=int, default=1, help="discriminator steps per step")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON path (default benchmarks/results_speed/gan_step.json)")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.rounds = 3, 1
    out = args.out or (Path(tempfile.gettempdir()) / "satsr_bench_gan_step_quick.json"
                       if args.quick else REPO / "benchmarks/results_speed/gan_step.json")
    sides = ("vgg", "small", "pixel")
    walls: dict[str, list[float]] = {s: [] for s in sides}
    cpus: dict[str, list[float]] = {s: [] for s in sides}
    with tempfile.TemporaryDirectory() as tmp:
        runs = {s: trainer(s, args.steps * (args.rounds + 1), args.n_critic, Path(tmp) / s)
                for s in sides}
        threads = int(runs["vgg"].cfg.threads or torch.get_num_threads())
        counters = dict.fromkeys(sides, 0)
        for _ in range(args.rounds + 1):  # the first round is a warm-up
            for side, t in runs.items():
                def block(t: Trainer = t, side: str = side) -> None:
                    for _ in range(args.steps):
                        t.step(t.model, counters[side])
                        counters[side] += 1
                timing = time_call(block, repeats=1, warmup=0, threads=threads)
                walls[side].append(timing.wall_s[0])
                cpus[side].append(timing.cpu_s[0])
    timings = {s: Timing(tuple(walls[s][1:]), tuple(cpus[s][1:]), threads) for s in sides}
    rate = {s: args.steps / timings[s].median_s for s in sides}
    result = {
        "benchmark": "gan_step", "recipe": str(RECIPE.relative_to(REPO)), "steps": args.steps,
        "rounds": args.rounds, "n_critic": args.n_critic, "threads": threads,
        "quick": args.quick,
        "steps_per_s": {s: round(r, 3) for s, r in rate.items()},
        "ratio_vgg_over_small": round(rate["vgg"] / rate["small"], 3),
        "ratio_vgg_over_small_cpu": round(timings["small"].cpu_median_s
                                          / timings["vgg"].cpu_median_s, 3),
        "ratio_vgg_over_pixel": round(rate["vgg"] / rate["pixel"], 3),
        "timings": {s: timings[s].summary(per=args.steps) for s in sides},
        "machine": machine_facts(),
    }
    print(f"GAN step, srgan (small), n_critic {args.n_critic}, {threads} thread(s)")
    for s in sides:
        print(f"  {s:6s}: {rate[s]:6.2f} steps/s (spread {timings[s].spread:.2f})")
    print(f"  vgg / small: {result['ratio_vgg_over_small']} (CPU time "
          f"{result['ratio_vgg_over_small_cpu']}); vgg / pixel: {result['ratio_vgg_over_pixel']}")
    write_text(out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
