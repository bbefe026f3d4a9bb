"""Remote-sensing columns of bench runs: ERGAS, SAM, consistency, bootstrap intervals, labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from satsr.bench import BenchConfig, run_bench
from satsr.bench.evidence import bootstrap_ci
from satsr.bench.report import write_report


def test_bootstrap_interval_brackets_the_mean_and_is_reproducible() -> None:
    v = np.array([30.0, 31.0, 35.0, 29.5, 33.0])
    low, high = bootstrap_ci(v)  # type: ignore[misc]
    assert low < v.mean() < high and v.min() <= low and high <= v.max()
    assert bootstrap_ci(v) == (low, high)
    assert bootstrap_ci(np.array([1.0, np.nan])) is None


def test_probav_real_run_has_ergas_consistency_and_intervals(probav_root: Path,
                                                             tmp_path: Path) -> None:
    res = run_bench(BenchConfig(models="bicubic,mean-bicubic", dataset=str(probav_root),
                                out=tmp_path / "r", progress=False, strips=False))
    rec = res.records
    assert rec["ergas"].between(0.1, 50).all()
    assert rec["sam"].isna().all()  # single-band tables: no spectral angle
    assert rec["consistency_psnr"].between(20, 80).all()
    for table in res.summary["tables"]:
        for row in table["rows"]:
            assert row["ergas"] > 0 and row["consistency_psnr"] > 0
            assert row["sam"] is None
            assert row["n_scenes"] == 1 and "cpsnr" not in row["ci95"]  # one scene per band
    report = (res.out / "report.md").read_text()
    assert "REAL, 1 scene" in report and "SYNTHETIC" not in report


def test_sample_chips_run_reports_sam_and_per_band(tmp_path: Path) -> None:
    res = run_bench(BenchConfig(models="bicubic", dataset="sample-chips", out=tmp_path / "c",
                                progress=False, strips=False))
    rec = res.records
    assert rec["sam"].between(0.01, 45).all()
    bands = json.loads(str(rec["per_band"].iloc[0]))
    assert set(bands["ergas"]) == {"blue", "green", "red", "nir"}
    (table,) = res.summary["tables"]
    (row,) = table["rows"]
    low, high = row["ci95"]["cpsnr"]
    assert low <= row["cpsnr"] <= high
    assert set(row["per_band"]["consistency_bias"]) == {"blue", "green", "red", "nir"}
    written = write_report(res.out)
    report = next(p for p in written if p.name == "report.md").read_text()
    assert f"SYNTHETIC, {table['n_scenes']} scenes" in report and "REAL" not in report
    assert "| Model | ERGAS blue | ERGAS green | ERGAS red | ERGAS nir |" in report


@pytest.mark.parametrize("sigma", [0.0, 1.0])
def test_consistency_uses_the_declared_psf(sigma: float) -> None:
    """A perfect pre-image under the declared σ scores inf; under another σ it does not."""
    import torch

    from satsr.batch import Batch
    from satsr.bench.evidence import remote_sensing_scores
    from satsr.resample import degrade

    hr = (torch.rand(1, 2, 12, 12, dtype=torch.float64) + 0.1).float().double()
    lr = degrade(hr, 3, sigma)[:, None].float()
    batch = Batch(lr=lr, lr_mask=torch.ones(1, 1, 4, 4, dtype=torch.bool),
                  frame_valid=torch.ones(1, 1, dtype=torch.bool), hr=hr.float(),
                  hr_mask=torch.ones(1, 12, 12, dtype=torch.bool), scene=["s"])
    mask = torch.ones(1, 12, 12, dtype=torch.bool)
    same = remote_sensing_scores(hr, batch, scale=3, data_range=1.0, mask=mask, crop=0,
                                 bands=["a", "b"], psf_sigma_hr=sigma)[0]
    other = remote_sensing_scores(hr, batch, scale=3, data_range=1.0, mask=mask, crop=0,
                                  bands=["a", "b"], psf_sigma_hr=sigma + 0.7)[0]
    assert same["consistency_psnr"] > 120 and other["consistency_psnr"] < 100
    assert same["ergas"] == 0.0 and same["sam"] == 0.0
