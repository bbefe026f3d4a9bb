"""Result identity: a record is reused only when model, weights, data and metric settings all
match; a changed identity recomputes and replaces rows, and the summary describes every row."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from satsr import schema
from satsr.bench import BenchConfig, run_bench
from satsr.bench import results as res
from satsr.bench.identity import scene_keys
from satsr.datasets import load_datasets
from satsr.models.pretrained import create_pretrained
from satsr.models.weights import (
    file_sha256,
    pretrained,
    read_sidecar,
    save_weights,
)

# sidecar fields save_weights computes itself
_COMPUTED = {"format", "format_version", "model", "scale", "in_channels", "hparams",
             "normalisation", "sha256", "size_bytes", "file"}


def bench(dataset: str, out: Path, models: str, **kw: Any) -> Any:
    return run_bench(BenchConfig(models=models, dataset=dataset, out=out, progress=False,
                                 strips=False, **kw))


def perturbed_edsr(path: Path) -> Path:
    """The shipped sample edsr weights, every tensor nudged, saved with satsr's weights API."""
    model = create_pretrained("edsr", "sample")
    assert model is not None
    shipped = pretrained("edsr", "sample")
    assert shipped is not None
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * p.abs().mean() * torch.randn(p.shape, generator=gen))
    meta = {k: v for k, v in read_sidecar(shipped).items() if k not in _COMPUTED}
    return save_weights(model, path, metadata=meta)


def by_model(records: pd.DataFrame, model: str) -> pd.DataFrame:
    sel = records[records["model"] == model].sort_values(["band", "scene"])
    return sel.reset_index(drop=True)


def test_user_weights_replace_stale_rows_and_summary_describes_all(tmp_path: Path) -> None:
    """The issue's scenario: `--models ...,edsr` then `--models edsr:OTHER.safetensors` into the
    same folder recomputes edsr with the new weights; the other rows stay and stay described."""
    out = tmp_path / "results"
    first = bench("sample", out, "bicubic,mean-bicubic,edsr").records
    assert len(first) == 3 * 2 * 8
    weights = perturbed_edsr(tmp_path / "edsr-other.safetensors")
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-m", "satsr", "bench", "--models", f"edsr:{weights}",
                           "--out", str(out), "--no-strips", "--no-progress"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr
    records = res.load_records(out)
    assert len(records) == len(first)
    for model in ("bicubic", "mean-bicubic"):  # reused as they were, runtimes included
        pd.testing.assert_frame_equal(by_model(records, model), by_model(first, model))
    old, new = by_model(first, "edsr"), by_model(records, "edsr")
    sha = file_sha256(weights)
    assert set(new["weights_sha256"]) == {sha} and set(old["weights_sha256"]) != {sha}
    assert (new["cpsnr"].to_numpy() != old["cpsnr"].to_numpy()).all()
    fresh = by_model(bench("sample", tmp_path / "fresh", f"edsr:{weights}").records, "edsr")
    np.testing.assert_allclose(new["cpsnr"], fresh["cpsnr"], rtol=1e-9)
    summary = res.load_summary(out)
    assert set(summary["models"]) == {"bicubic", "mean-bicubic", "edsr"}
    assert summary["models"]["edsr"]["weights_sha256"] == sha
    assert summary["models"]["edsr"]["params"] == int(new["params"].iloc[0]) > 0
    assert summary["models"]["mean-bicubic"]["kind"] == "baseline"
    for table in summary["tables"]:
        rows = {r["model"]: r for r in table["rows"]}
        assert set(rows) == {"bicubic", "mean-bicubic", "edsr"} and table["n_scenes"] == 8
        assert rows["edsr"]["weights_sha256"] == sha and rows["edsr"]["weights"] == str(weights)
        assert rows["edsr"]["hparams"]["adapter"] == "mean"
        assert rows["bicubic"]["weights_sha256"] is None and rows["bicubic"]["model_key"]
        mine = new[new["band"] == table["band"]]
        assert rows["edsr"]["cpsnr"] == pytest.approx(float(mine["cpsnr"].mean()), rel=1e-12)
        assert f"{rows['edsr']['cpsnr']:.3f}" in proc.stdout  # the new numbers are printed
    assert f"{old[old['band'] == 'RED']['cpsnr'].mean():.3f}" not in proc.stdout
    # the same request again: every record is reused unchanged
    again = bench("sample", out, f"edsr:{weights}").records
    pd.testing.assert_frame_equal(again.reset_index(drop=True), records.reset_index(drop=True))


def test_changed_scene_data_recomputes_only_that_scene(tmp_path: Path) -> None:
    ds = load_datasets("sample", split="test", band="RED")[0].load()
    store = schema.save_dataset(ds, tmp_path / "red.zarr")
    out = tmp_path / "r"
    first = bench(str(store), out, "bicubic,mean-bicubic").records
    changed = ds.copy(deep=True)
    changed["hr"].values[0] += 0.001  # scene 0's target changes by 0.1 % of the range
    schema.save_dataset(changed, store, overwrite=True)
    result = bench(str(store), out, "bicubic")
    assert result.dropped == {"mean-bicubic": 1}  # computed on the old data, not re-run here
    records = result.records
    scene0 = str(ds["scene"].values[0])
    old_b, new_b = by_model(first, "bicubic"), by_model(records, "bicubic")
    assert len(new_b) == 8
    moved = new_b["scene"] == scene0
    assert (new_b.loc[moved, "psnr"] != old_b.loc[moved, "psnr"]).all()
    assert (new_b.loc[moved, "data_key"] != old_b.loc[moved, "data_key"]).all()
    pd.testing.assert_frame_equal(new_b[~moved], old_b[~moved])  # reused, runtimes too
    mb = by_model(records, "mean-bicubic")
    assert len(mb) == 7 and scene0 not in set(mb["scene"])
    summary = res.load_summary(out)
    assert summary["dropped_stale"] == {"mean-bicubic": 1}
    rows = {r["model"]: r for r in summary["tables"][0]["rows"]}
    assert rows["mean-bicubic"]["n_scenes"] == 7 and rows["bicubic"]["n_scenes"] == 8


def test_metric_code_version_is_part_of_identity(probav_root: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "r"
    first = bench(str(probav_root), out, "bicubic,mean-bicubic").records
    monkeypatch.setattr("satsr.bench.identity.METRICS_VERSION", 999)
    result = bench(str(probav_root), out, "bicubic")
    assert set(result.records["model"]) == {"bicubic"}
    assert result.dropped == {"mean-bicubic": 2}
    assert not set(result.records["metric_key"]) & set(first["metric_key"])
    assert res.load_summary(out)["dataset"]["metric_settings"]["metrics_version"] == 999


def test_no_resume_recomputes_but_keeps_other_models(probav_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    first = bench(str(probav_root), out, "bicubic,mean-bicubic").records
    records = bench(str(probav_root), out, "bicubic", resume=False).records
    assert len(records) == len(first) == 4
    pd.testing.assert_frame_equal(by_model(records, "mean-bicubic"),
                                  by_model(first, "mean-bicubic"))


def test_scene_keys_follow_content_only(probav_root: Path) -> None:
    ds = load_datasets(str(probav_root), band="RED")[0].load()
    keys = scene_keys(ds)
    assert len(set(keys.values())) == ds.sizes["scene"] == 1
    assert scene_keys(ds.copy(deep=True)) == keys
    changed = ds.copy(deep=True)
    changed["lr_mask"].values[0, 0, 0, 0] ^= True
    assert scene_keys(changed) != keys
