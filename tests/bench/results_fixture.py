"""Write a small but real benchmark results folder for report and leaderboard tests.

Scenes are synthetic (smooth random HR fields, LR frames = shifted 3×3 area means plus noise and
random clouds); the models are the registered ``bicubic`` and ``mean-bicubic`` baselines; PSNR,
SSIM and cPSNR come from :mod:`satsr.metrics`; files are written with the lead's
:mod:`satsr.bench.results` writers, so the folder follows the committed schema exactly.
Run as a script to (re)create a folder: ``python tests/bench/results_fixture.py OUT_DIR``.
"""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

import satsr
from satsr.bench.identity import digest, fingerprint
from satsr.bench.report import write_report
from satsr.bench.results import SCHEMA_VERSION, write_records, write_summary
from satsr.metrics import cpsnr, probav_score, psnr, ssim
from satsr.models import count_parameters, create_model, model_info
from satsr.resample import downscale_area

SCALE = 3


def _scenes(n: int, frames: int, size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """HR (n, 1, 3·size, 3·size), LR (n, T, 1, size, size), masks; values in [0, 1]."""
    big = SCALE * size
    hr = np.empty((n, 1, big, big), np.float32)
    lr = np.empty((n, frames, 1, size, size), np.float32)
    lr_mask = np.ones((n, frames, size, size), bool)
    hr_mask = np.ones((n, big, big), bool)
    yy, xx = np.mgrid[0:big + 6, 0:big + 6] / big
    for s in range(n):
        field = np.zeros_like(yy)
        for _ in range(6):
            fy, fx, ph = rng.uniform(0.5, 4.0), rng.uniform(0.5, 4.0), rng.uniform(0, 6.3)
            field += rng.uniform(0.02, 0.08) * np.sin(2 * np.pi * (fy * yy + fx * xx) + ph)
        field += 0.3 + 0.01 * rng.standard_normal(field.shape)
        hr[s, 0] = field[3:3 + big, 3:3 + big]
        for t in range(frames):
            dy, dx = rng.integers(0, 3, size=2)
            crop = torch.from_numpy(field[3 + dy - 1:3 + dy - 1 + big, 3 + dx - 1:3 + dx - 1 + big])
            low = downscale_area(crop[None, None].float(), SCALE)[0, 0].numpy()
            lr[s, t, 0] = low + 0.002 * rng.standard_normal(low.shape)
            cy, cx = rng.integers(0, size, size=2)
            lr_mask[s, t] = (np.hypot(*np.mgrid[0:size, 0:size] - np.array([cy, cx])[:, None, None])
                             > rng.uniform(0, size / 3))
        hr_mask[s] = rng.uniform(size=(big, big)) > 0.05
    return {"hr": hr, "lr": lr, "lr_mask": lr_mask, "hr_mask": hr_mask}


def make_results(
    out_dir: Path,
    *,
    run_id: str = "fixture-sample",
    dataset: str = "fixture",
    bands: tuple[str, ...] = ("RED", "NIR"),
    models: tuple[str, ...] = ("bicubic", "mean-bicubic"),
    n_scenes: int = 5,
    frames: int = 4,
    size: int = 24,
    seed: int = 0,
) -> Path:
    """Create ``out_dir`` holding summary.json, records.parquet and records.csv; return it."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    tables = []
    params = {m: count_parameters(create_model(m, scale=SCALE)) for m in models}
    for band in bands:
        data = _scenes(n_scenes, frames, size, rng)
        scene_ids = [f"{band.lower()}{i:03d}" for i in range(n_scenes)]
        hr, mask = torch.from_numpy(data["hr"]), torch.from_numpy(data["hr_mask"])
        lr = torch.from_numpy(data["lr"])
        lr_mask = torch.from_numpy(data["lr_mask"])
        base = create_model("mean-bicubic", scale=SCALE)
        with torch.no_grad():
            norm = cpsnr(base(lr, lr_mask), hr, mask)
        assert isinstance(norm, torch.Tensor)
        means: dict[str, dict[str, float]] = {}
        data_keys = {sc: digest([seed, band, sc, float(hr[i].sum())]) for i, sc in
                     enumerate(scene_ids)}
        metric_key = digest({"fixture": True, "data_range": 1.0})
        for name in models:
            model = create_model(name, scale=SCALE)
            start = time.perf_counter()
            with torch.no_grad():
                sr = model(lr, lr_mask)
            runtime = time.perf_counter() - start
            c = cpsnr(sr, hr, mask)
            assert isinstance(c, torch.Tensor)
            p, s = psnr(sr, hr, data_range=1.0, mask=mask), ssim(sr, hr, data_range=1.0)
            sc = probav_score(c, norm)
            for i, scene in enumerate(scene_ids):
                rows.append({"dataset": dataset, "split": "test", "band": band, "scene": scene,
                             "model": name, "psnr": float(p[i]), "ssim": float(s[i]),
                             "cpsnr": float(c[i]), "score": float(sc[i]),
                             "runtime_s": runtime / n_scenes, "synthetic": True,
                             "pixels": int(sr[0].numel()), "model_key": digest({"model": name}),
                             "data_key": data_keys[scene], "metric_key": metric_key,
                             "weights": "", "weights_sha256": "", "params": params[name],
                             "hparams": "{}"})
            means[name] = {"psnr": float(p.mean()), "ssim": float(s.mean()),
                           "cpsnr": float(c.mean()), "score": float(sc.mean()),
                           "runtime_s": runtime / n_scenes,
                           "throughput_mpx_s": sr.numel() / 1e6 / max(runtime, 1e-9)}
        ref = means.get("bicubic")
        table_rows = []
        for name in models:
            m = means[name]
            table_rows.append({
                "model": name, "n_scenes": n_scenes, "psnr": m["psnr"], "ssim": m["ssim"],
                "cpsnr": m["cpsnr"], "score": m["score"],
                "delta_psnr": None if ref is None else m["psnr"] - ref["psnr"],
                "delta_ssim": None if ref is None else m["ssim"] - ref["ssim"],
                "delta_cpsnr": None if ref is None else m["cpsnr"] - ref["cpsnr"],
                "params": params[name], "throughput_mpx_s": m["throughput_mpx_s"],
                "runtime_s": m["runtime_s"], "weights": None, "weights_sha256": None,
                "hparams": {}, "model_key": digest({"model": name}), "metric_key": metric_key,
                "data_fingerprint": fingerprint(data_keys.items())})
        tables.append({"dataset": dataset, "band": band, "split": "test", "n_scenes": n_scenes,
                       "synthetic": True, "delta_baseline": "bicubic" if ref else None,
                       "data_fingerprint": fingerprint(data_keys.items()), "rows": table_rows})
    write_records(pd.DataFrame(rows), out_dir)
    summary = {
        "kind": "satsr.bench.results", "schema_version": SCHEMA_VERSION,
        "generator": "satsr bench", "run_id": run_id,
        "created": "2026-11-22T03:00:00+00:00", "satsr_version": satsr.__version__,
        "git_commit": None, "git_dirty": False,
        "environment": {"python": platform.python_version(), "torch": torch.__version__,
                        "numpy": np.__version__, "platform": platform.platform(),
                        "device": "cpu", "cpu": platform.machine(),
                        "threads": torch.get_num_threads()},
        "dataset": {"name": dataset, "path": "(generated by tests/bench/results_fixture.py)",
                    "synthetic": True, "scale": SCALE, "value_scale": "reflectance",
                    "bands": list(bands), "splits": ["test"], "multi_frame": frames > 1},
        "models": {m: {"kind": model_info(m).kind, "params": params[m], "weights": None,
                       "paper": model_info(m).paper, "year": model_info(m).year,
                       "url": model_info(m).url} for m in models},
        "tables": tables,
        "plots": {"scatter": [], "strips": []},
    }
    write_summary(summary, out_dir)
    # like `satsr bench`: tables and scatter plots via satsr.bench.report, listed in the summary
    written = write_report(out_dir)
    summary["plots"]["scatter"] = sorted(str(p.relative_to(out_dir)) for p in written
                                         if p.name.startswith("scatter_"))
    write_summary(summary, out_dir)
    return out_dir


if __name__ == "__main__":
    make_results(Path(sys.argv[1]))
