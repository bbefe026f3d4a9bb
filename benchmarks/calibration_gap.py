"""The synthetic→real gap of learned models, before and after calibrating the simulator.

    python benchmarks/calibration_gap.py [--models srcnn,highres-net,rams] [--data DIR]
    python benchmarks/calibration_gap.py --render   # re-render the cards from the committed JSON

For every model: train it with its shipped recipe (``benchmarks/recipes/<model>.yaml``, same
steps, seed and options) on ``sample-calibrated`` instead of ``sample`` into
``runs/calibration-gap/<model>/`` (the shipped weights in ``satsr/models/pretrained/`` are never
touched; a finished training is skipped, so an interrupted run resumes where it stopped), then
benchmark both variants with :func:`satsr.bench.run_bench`:

- ``shipped``: the shipped weights (trained on the SYNTHETIC ``sample``), scored on the
  ``sample`` held-out ``test`` split and on the REAL PROBA-V scenes in ``<data>/probav``;
- ``calibrated``: the retrained weights, scored on the ``sample-calibrated`` ``test`` split and
  on the same REAL scenes.

Every table also scores ``mean-bicubic`` (the PROBA-V organisers' baseline) on the same scenes;
per model, band and variant the JSON holds cPSNR, the gain over mean-bicubic, and the
synthetic→real gap = synthetic gain − real gain (dB; > 0: the model does worse on real data than
the synthetic test promised). Writes ``benchmarks/results/calibration_gap.json`` atomically and
re-renders the gap section of the sample's dataset cards and the verdict on the docs home page.
Run it under ``nice``; each training pins one torch thread (the recipes' ``threads: 1``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from satsr._atomic import write_text
from satsr._digest import file_digest
from satsr.bench.timing import machine_facts
from satsr.datasets.simulate.gap import VARIANT_DATASETS

REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "benchmarks" / "recipes"
RUNS = REPO / "runs" / "calibration-gap"
OUT = REPO / "benchmarks" / "results" / "calibration_gap.json"
CARDS = (REPO / "datasets" / "sample" / "README.md", REPO / "docs" / "datasets" / "sample.md")
HOME = REPO / "docs" / "index.md"
#: srcnn plus the multi-frame networks that train fastest on one CPU thread (measured on the
#: shared 2-core machine, 600 steps each: srcnn 157 s, highres-net 248 s, rams 148 s, wdsr3d
#: 191 s, wdsr3d-dorr 263 s wall); add any other model with a recipe and shipped weights via
#: --models (the committed JSON holds every shipped model: 20-315 s each, 22 in ~40 min).
DEFAULT_MODELS = ("srcnn", "highres-net", "rams", "wdsr3d", "wdsr3d-dorr")
REFERENCE = "mean-bicubic"
CALIBRATED = "sample-calibrated"
#: variant → the synthetic dataset its weights are trained on and scored on (held-out test)
VARIANTS = VARIANT_DATASETS
#: written into a run folder after training: the sha256 of the recipe it was trained with
RECIPE_DIGEST = "recipe.sha256"


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def load_recipe(model: str) -> tuple[Path, dict[str, Any]]:
    """The shipped recipe of ``model`` and its options."""
    path = RECIPES / f"{model}.yaml"
    if not path.is_file():
        sys.exit(f"no recipe {_rel(path)} for model {model!r}; pick models from "
                 f"{sorted(p.stem for p in RECIPES.glob('*.yaml'))}")
    return path, yaml.safe_load(path.read_text(encoding="utf-8"))


def training_finished(out: Path, recipe: Path, spec: dict[str, Any]) -> bool:
    """True when ``out`` holds a completed run of ``recipe`` (options ``spec``) on the
    calibrated sample."""
    state_path = out / "state.json"
    if not (state_path.is_file() and (out / "best.safetensors").is_file()):
        return False
    state = json.loads(state_path.read_text(encoding="utf-8"))
    config = state.get("config", {})
    same = all(config.get(k) == spec.get(k) for k in ("model", "steps", "seed", "lr", "frames",
                                                     "preset", "loss", "patch", "batch"))
    # any other edit of the recipe (schedule, normalisation, hparams, ...) retrains too
    trained_with = out / RECIPE_DIGEST
    history = state.get("history") or [{}]
    return (same and config.get("dataset") == CALIBRATED and trained_with.is_file()
            and trained_with.read_text(encoding="utf-8").strip() == file_digest(recipe)
            and int(history[-1].get("step", 0)) >= int(spec["steps"]))


def train_calibrated(model: str) -> dict[str, Any]:
    """Train ``model`` with its recipe on the calibrated sample (skipped when already done)."""
    recipe, spec = load_recipe(model)
    out = RUNS / model
    if not training_finished(out, recipe, spec):
        out.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "satsr", "train", "--recipe", _rel(recipe),
               "--dataset", CALIBRATED, "--out", _rel(out), "--no-progress"]
        sys.stdout.write(f"{model}: training on {CALIBRATED} ({spec['steps']} steps) ...\n")
        sys.stdout.flush()
        t0 = time.perf_counter()
        with open(out / "train.log", "w", encoding="utf-8") as log:
            rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        if rc != 0:
            sys.exit(f"{model}: training failed (exit {rc}); see {_rel(out / 'train.log')}")
        write_text(out / RECIPE_DIGEST, file_digest(recipe) + "\n")
        sys.stdout.write(f"{model}: trained in {time.perf_counter() - t0:.0f} s\n")
    state = json.loads((out / "state.json").read_text(encoding="utf-8"))
    # history "seconds" is the cumulative training time at each validation
    return {"weights": out / "best.safetensors",
            "train_seconds": state["history"][-1].get("seconds")}


def _bench(spec: str, dataset: str, split: str | None, out: Path) -> dict[str, Any]:
    """One bench run (resumed when its records are still valid); its summary."""
    from satsr.bench import BenchConfig, run_bench

    # allow_mismatch: weights trained on the SYNTHETIC sample are run on REAL PROBA-V on purpose
    result = run_bench(BenchConfig(models=spec, dataset=dataset, split=split, out=out,
                                   progress=False, resume=True, strips=False,
                                   allow_mismatch=True))
    return result.summary


def _scores(summary: dict[str, Any], model: str) -> dict[str, dict[str, Any]]:
    """{band: cPSNR of ``model``, of mean-bicubic, the gain and the scene count}."""
    out: dict[str, dict[str, Any]] = {}
    for table in summary["tables"]:
        rows = {str(r["model"]): r for r in table["rows"]}
        if model not in rows or REFERENCE not in rows:
            raise SystemExit(f"bench table {table['dataset']} {table['band']} lacks {model} or "
                             f"{REFERENCE}; see runs/calibration-gap/bench")
        c, ref = float(rows[model]["cpsnr"]), float(rows[REFERENCE]["cpsnr"])
        out[str(table["band"])] = {"cpsnr": c, "reference_cpsnr": ref, "gain": c - ref,
                                   "psnr": float(rows[model]["psnr"]),
                                   "n_scenes": int(table["n_scenes"])}
    return out


def _dataset_facts(summary: dict[str, Any], split: str | None) -> dict[str, Any]:
    """Name, split, content fingerprint, scene counts and generator version of a bench set."""
    from satsr.datasets.sample import SAMPLE_VERSION
    from satsr.datasets.simulate.calibrated import CALIBRATED_VERSION

    ds = summary["dataset"]
    versions = {"sample": {"sample_version": SAMPLE_VERSION},
                CALIBRATED: {"sample_version": SAMPLE_VERSION,
                             "calibrated_version": CALIBRATED_VERSION}}
    return {"name": ds["name"], "synthetic": ds["synthetic"], "split": split,
            "fingerprint": ds["fingerprint"], "n_scenes": ds["n_scenes"],
            "version": versions.get(str(ds["name"]))}


def _variant(model: str, name: str, weights: Path, summaries: dict[str, dict[str, Any]],
             train_seconds: float | None) -> dict[str, Any]:
    """One model × variant: weights identity and per-band synthetic/real scores and gap."""
    from satsr.models.weights import read_sidecar

    meta = read_sidecar(weights)
    syn, real = _scores(summaries["synthetic"], model), _scores(summaries["real"], model)
    bands = {band: {"synthetic": syn[band], "real": real[band],
                    "gap": syn[band]["gain"] - real[band]["gain"]}
             for band in sorted(set(syn) & set(real))}
    return {"trained_on": VARIANTS[name], "weights": _rel(weights),
            "weights_sha256": file_digest(weights), "data_version": meta.get("data_version"),
            "best_step": meta.get("step"), "train_seconds": train_seconds, "bands": bands}


def _machine() -> dict[str, Any]:
    return {**machine_facts(), "platform": platform.platform(), "train_threads": 1}


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def run(models: list[str], data: Path) -> dict[str, Any]:
    """Train what is missing, bench both variants, and return the result dict."""
    from satsr.models import model_info
    from satsr.models.weights import pretrained

    probav = data / "probav"
    if not probav.is_dir():
        sys.exit(f"no real PROBA-V scenes at {probav}; pass --data (the folder holding probav/)")
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    weights: dict[str, dict[str, Path]] = {"shipped": {}, "calibrated": {}}
    seconds: dict[str, float | None] = {}
    for model in models:
        shipped = pretrained(model, "sample")
        if shipped is None:
            sys.exit(f"model {model!r} has no shipped weights trained on `sample`")
        weights["shipped"][model] = shipped
        trained = train_calibrated(model)
        weights["calibrated"][model], seconds[model] = trained["weights"], trained["train_seconds"]
    summaries: dict[str, dict[str, dict[str, Any]]] = {}
    for name, synthetic in VARIANTS.items():
        spec = ",".join([REFERENCE, *(f"{m}:{_rel(w)}" for m, w in weights[name].items())])
        summaries[name] = {
            "synthetic": _bench(spec, synthetic, "test", RUNS / "bench" / f"{name}-synthetic"),
            "real": _bench(spec, str(probav), None, RUNS / "bench" / f"{name}-real"),
        }
    result: dict[str, Any] = {
        "kind": "satsr.calibration_gap", "version": 1,
        "generator": "benchmarks/calibration_gap.py", "started": started,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")), "machine": _machine(), "reference": REFERENCE,
        "metric": "cpsnr (dB, PROBA-V corrected PSNR over clear HR pixels)",
        "datasets": {
            "real": _dataset_facts(summaries["shipped"]["real"], None),
            **{VARIANTS[n]: _dataset_facts(s["synthetic"], "test") for n, s in summaries.items()},
        },
        "models": {},
    }
    for model in models:
        recipe, options = load_recipe(model)
        result["models"][model] = {
            "kind": model_info(model).kind, "recipe": _rel(recipe),
            "recipe_sha256": file_digest(recipe), "steps": options["steps"],
            "seed": options["seed"],
            "variants": {name: _variant(model, name, weights[name][model], summaries[name],
                                        seconds.get(model) if name == "calibrated" else None)
                         for name in VARIANTS},
        }
    return result


def render(result: dict[str, Any]) -> None:
    """Re-render the gap section of the dataset cards and the verdict on the docs home page."""
    from satsr.datasets.simulate import gap

    home = HOME.read_text(encoding="utf-8")
    if gap.HOME_BEGIN not in home:  # checked first: no card is updated without the home page
        sys.exit(f"{_rel(HOME)} has no {gap.HOME_BEGIN} marker; add it where the real results "
                 "are discussed")
    section = gap.gap_markdown(result)
    for card in CARDS:
        text = card.read_text(encoding="utf-8")
        write_text(card, gap.replace_section(text, section, gap.GAP_BEGIN, gap.GAP_END,
                                             gap.HEADING))
        sys.stdout.write(f"updated {_rel(card)}\n")
    write_text(HOME, gap.replace_section(home, gap.home_markdown(result), gap.HOME_BEGIN,
                                         gap.HOME_END, ""))
    sys.stdout.write(f"updated {_rel(HOME)}\n")


def main() -> None:

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS),
                        help="comma-separated models with a recipe and shipped weights")
    default_data = Path(os.environ.get("SATSR_TEST_DATA") or REPO.parent / "shared" / "data")
    parser.add_argument("--data", type=Path, default=default_data,
                        help="folder holding the real probav/ scenes")
    parser.add_argument("--render", action="store_true",
                        help="only re-render the cards from the committed JSON")
    args = parser.parse_args()
    if args.render:
        render(json.loads(OUT.read_text(encoding="utf-8")))
        return
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    import torch

    torch.set_num_threads(1)  # the benches run in this process; keep the shared CPU light
    result = run(models, args.data)
    write_text(OUT, json.dumps(result, indent=1, sort_keys=True) + "\n")
    sys.stdout.write(f"wrote {_rel(OUT)}\n")
    render(result)


if __name__ == "__main__":
    main()
