"""Reproduce satsr's shipped weights and their held-out table.

    python benchmarks/train_all.py train [--models edsr,rams] [--missing]
    python benchmarks/train_all.py eval  [--out benchmarks/recipes/heldout_sample_test.csv]

``train`` runs ``satsr train --recipe benchmarks/recipes/<model>.yaml`` for every recipe (one
model after another; each run logs to ``runs/pretrained/<model>/train.log``) and copies the best
checkpoint to ``satsr/models/pretrained/<model>__<dataset>.safetensors`` (+ JSON sidecar).
``eval`` scores every shipped model and the baselines on the sample's held-out ``test`` split:
mean PSNR over clear pixels, mean cPSNR and the PROBA-V score (mean of norm/cPSNR, where norm is
the scene's ``norm`` value or, when the dataset has none, the ``mean-bicubic`` cPSNR).
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "benchmarks" / "recipes"


def _recipes(models: str | None) -> list[Path]:
    paths = sorted(RECIPES.glob("*.yaml"))
    if models:
        by_name = {p.stem: p for p in paths}
        paths = [by_name[m] for m in models.split(",") if m in by_name]
    return paths


def train_all(models: str | None, missing: bool) -> None:
    """Train every recipe in turn and export the best weights into the package."""
    from satsr.models.weights import PRETRAINED_DIR, export_weights

    for recipe in _recipes(models):
        spec = yaml.safe_load(recipe.read_text())
        name, dataset = spec["model"], spec.get("dataset", "sample")
        band = spec.get("band")
        dest = PRETRAINED_DIR / (f"{name}__{dataset}" + (f"__{band}" if band else "")
                                 + ".safetensors")
        if missing and dest.exists():
            continue
        out = REPO / "runs" / "pretrained" / recipe.stem
        out.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-c", "from satsr.cli import main; main()", "train",
               "--recipe", str(recipe.relative_to(REPO)),
               "--out", str(out.relative_to(REPO)), "--no-progress"]
        t0 = time.perf_counter()
        with open(out / "train.log", "w") as log:
            rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        took = time.perf_counter() - t0
        if rc != 0:
            sys.stderr.write(f"{name}: training failed (exit {rc}); see {out / 'train.log'}\n")
            continue
        export_weights(out / "best.safetensors", dest)
        sys.stdout.write(f"{name}: {took:.0f} s -> {dest.relative_to(REPO)}\n")
        sys.stdout.flush()


@torch.no_grad()
def _predict(model: torch.nn.Module, batch: object, size: int = 8) -> torch.Tensor:
    from satsr.batch import Batch

    assert isinstance(batch, Batch)
    outs = []
    for s in range(0, len(batch), size):
        outs.append(model(batch.lr[s:s + size], batch.lr_mask[s:s + size],
                          batch.frame_valid[s:s + size]).float())
    return torch.cat(outs)


def evaluate(dataset: str, out: Path | None) -> list[dict[str, object]]:
    """The held-out table: one row per model (both bands pooled), baselines first."""
    from satsr.batch import batch_from_dataset
    from satsr.datasets import load_datasets
    from satsr.metrics import cpsnr, psnr
    from satsr.models import create_model, create_pretrained, list_models, model_info

    stores = load_datasets(dataset, split="test")
    names = ["bicubic", "mean-bicubic"] + [n for n in list_models() if model_info(n).learned]
    per: dict[str, dict[str, list[torch.Tensor]]] = {n: {"psnr": [], "cpsnr": [], "norm": []}
                                                     for n in names}
    for ds in stores:
        band = str(ds["band"].values[0])
        b = batch_from_dataset(ds)
        assert b.hr is not None and b.hr_mask is not None
        dr = float(ds.attrs["data_range"])
        base = cpsnr(_predict(create_model("mean-bicubic"), b), b.hr, b.hr_mask, data_range=dr)
        assert isinstance(base, torch.Tensor)
        norm = b.norm if b.norm is not None else base
        for name in names:
            model = (create_model(name) if not model_info(name).learned
                     else create_pretrained(name, dataset, band))
            if model is None:
                continue
            sr = _predict(model.eval(), b)
            c = cpsnr(sr, b.hr, b.hr_mask, data_range=dr)
            assert isinstance(c, torch.Tensor)
            per[name]["psnr"].append(psnr(sr, b.hr, data_range=dr, mask=b.hr_mask))
            per[name]["cpsnr"].append(c)
            per[name]["norm"].append(norm)
    rows: list[dict[str, object]] = []
    ref = torch.cat(per["bicubic"]["psnr"]).mean().item()
    for name in names:
        if not per[name]["psnr"]:
            continue
        p, c, nv = (torch.cat(per[name][k]) for k in ("psnr", "cpsnr", "norm"))
        rows.append({"model": name, "kind": model_info(name).kind, "scenes": int(p.numel()),
                     "psnr": round(p.mean().item(), 3),
                     "delta_psnr_vs_bicubic": round(p.mean().item() - ref, 3),
                     "cpsnr": round(c.mean().item(), 3),
                     "score": round((nv / c).mean().item(), 4)})
    if out is not None:
        with open(out, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--models", default=None, help="comma-separated recipe names")
    t.add_argument("--missing", action="store_true", help="skip models already shipped")
    e = sub.add_parser("eval")
    e.add_argument("--dataset", default="sample")
    e.add_argument("--out", type=Path, default=RECIPES / "heldout_sample_test.csv")
    args = parser.parse_args()
    if args.cmd == "train":
        train_all(args.models, args.missing)
    else:
        torch.set_num_threads(2)
        for row in evaluate(args.dataset, args.out):
            sys.stdout.write(" ".join(f"{k}={v}" for k, v in row.items()) + "\n")


if __name__ == "__main__":
    main()
