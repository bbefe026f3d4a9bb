"""The bench harness end to end on the REAL PROBA-V scenes: records, summary, resume, Ctrl-C."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from satsr.bench import BenchConfig, run_bench
from satsr.bench import results as res
from satsr.errors import ConfigError, InputValueError, ModelNotFoundError
from satsr.models import ModelInfo, register_model, unregister_model
from satsr.models.baselines import Bicubic


class _Interrupting(Bicubic):
    def forward(self, lr, lr_mask=None, frame_valid=None):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt


class _NaNs(Bicubic):
    def forward(self, lr, lr_mask=None, frame_valid=None):  # type: ignore[no-untyped-def]
        out = super().forward(lr, lr_mask, frame_valid)
        out[..., 0, 0] = float("nan")
        return out


def interrupting(*, scale: int = 3, in_channels: int = 1, **_: Any) -> _Interrupting:
    return _Interrupting(scale, in_channels)


def nans(*, scale: int = 3, in_channels: int = 1, **_: Any) -> _NaNs:
    return _NaNs(scale, in_channels)


@pytest.fixture
def test_models() -> Any:
    """Register two misbehaving models through the public registry, then remove them."""
    for name, fn in (("zz-interrupt", "interrupting"), ("zz-nan", "nans")):
        register_model(ModelInfo(name=name, entrypoint=f"{__name__}:{fn}", kind="baseline",
                                 paper="test", year=2026, learned=False))
    yield
    for name in ("zz-interrupt", "zz-nan"):
        unregister_model(name)


def bench(probav_root: Path, out: Path, models: str, **kw: Any) -> Any:
    return run_bench(BenchConfig(models=models, dataset=str(probav_root), out=out,
                                 progress=False, **kw))


def test_baselines_on_real_probav(probav_root: Path, tmp_path: Path) -> None:
    result = bench(probav_root, tmp_path / "r", "bicubic,mean-bicubic")
    out = result.out
    for name in ("records.parquet", "records.csv", "summary.json"):
        assert (out / name).exists()
    records = res.load_records(out)
    assert len(records) == 4 and set(records["model"]) == {"bicubic", "mean-bicubic"}
    mb = records[records["model"] == "mean-bicubic"]
    np.testing.assert_allclose(mb["score"].to_numpy(), 1.0, atol=1e-8)
    assert f"{mb['score'].mean():.6f}" == "1.000000"
    summary = res.load_summary(out)
    assert {(t["band"], t["split"]) for t in summary["tables"]} == {("RED", "train"),
                                                                     ("NIR", "train")}
    red = next(t for t in summary["tables"] if t["band"] == "RED")
    rows = {r["model"]: r for r in red["rows"]}
    assert rows["bicubic"]["delta_cpsnr"] == 0.0
    # RED imgset0000 has 9 frames tied for max clearance: averaging them helps
    assert rows["mean-bicubic"]["delta_cpsnr"] > 0.1
    assert rows["mean-bicubic"]["throughput_mpx_s"] > 0
    assert summary["environment"]["torch"] == torch.__version__.split("+")[0]
    assert summary["dataset"]["synthetic"] is False
    assert summary["plots"]["strips"], "visual strips are written"
    for rel in summary["plots"]["strips"] + summary["plots"]["scatter"]:
        assert (out / rel).stat().st_size > 1000
    csv = pd.read_csv(out / "records.csv", dtype={"scene": str})
    assert csv["scene"].tolist() == records["scene"].tolist()


def test_resume_skips_computed_records(probav_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    bench(probav_root, out, "bicubic", strips=False)
    first = res.load_records(out)
    bench(probav_root, out, "bicubic,mean-bicubic", strips=False)
    both = res.load_records(out)
    assert len(both) == 4
    again = both[both["model"] == "bicubic"].reset_index(drop=True)
    pd.testing.assert_frame_equal(again, first.reset_index(drop=True))  # runtimes untouched


def test_interrupt_leaves_valid_files_and_resumes(probav_root: Path, tmp_path: Path,
                                                   test_models: None) -> None:
    out = tmp_path / "r"
    with pytest.raises(KeyboardInterrupt):
        bench(probav_root, out, "bicubic,zz-interrupt", strips=False)
    records = res.load_records(out)
    assert set(records["model"]) == {"bicubic"} and len(records) >= 1
    summary = json.loads((out / "summary.json").read_text())
    res.validate_summary(summary, "summary.json")
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files
    bench(probav_root, out, "bicubic,mean-bicubic", strips=False)
    assert len(res.load_records(out)) == 4


def test_nan_output_is_a_clear_error(probav_root: Path, tmp_path: Path,
                                     test_models: None) -> None:
    with pytest.raises(InputValueError, match="NaN/inf"):
        bench(probav_root, tmp_path / "r", "zz-nan", strips=False)


def test_bad_model_names_fail_before_writing(probav_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="did you mean bicubic"):
        bench(probav_root, tmp_path / "r", "bicubc")
    with pytest.raises(ConfigError, match="matches no model"):
        bench(probav_root, tmp_path / "r", "nothing*")
    assert not (tmp_path / "r").exists()


def test_summary_validation_names_file_and_field(tmp_path: Path) -> None:
    with pytest.raises(res.ResultsSchemaError, match=r"x\.json: field 'schema_version' is 7"):
        res.validate_summary({"kind": res.KIND, "schema_version": 7}, "x.json")
    good: dict[str, Any] = {
        "kind": res.KIND, "schema_version": res.SCHEMA_VERSION, "run_id": "r", "created": "now",
        "satsr_version": "0", "git_commit": None,
        "environment": {"python": "3", "torch": "2", "platform": "p", "device": "cpu"},
        "dataset": {"name": "d", "synthetic": True, "scale": 3}, "models": {},
        "tables": [{"dataset": "d", "band": "b", "split": "test", "n_scenes": 1,
                    "rows": [{"model": "m"}]}], "plots": {}}
    with pytest.raises(res.ResultsSchemaError,
                       match=r"y\.json: field 'tables\[0\]\.rows\[0\]\.n_scenes' is missing"):
        res.validate_summary(good, "y.json")


def test_scoring_mask_rules() -> None:
    from satsr.batch import Batch
    from satsr.bench.run import scoring_mask

    lr_mask = torch.ones(1, 2, 2, 2, dtype=torch.bool)
    lr_mask[0, 0, 0, 0] = False  # cloudy in frame 0 only: frame 1 still sees it
    lr_mask[0, :, 1, 1] = False  # cloudy in every frame
    hr_mask = torch.ones(1, 6, 6, dtype=torch.bool)
    hr_mask[0, 0, 5] = False
    batch = Batch(lr=torch.zeros(1, 2, 1, 2, 2), lr_mask=lr_mask,
                  frame_valid=torch.tensor([[True, True]]), hr=torch.zeros(1, 1, 6, 6),
                  hr_mask=hr_mask)
    assert torch.equal(scoring_mask(batch, 3, "hr"), hr_mask)
    both = scoring_mask(batch, 3, "hr&lr")
    assert both[0, :3, :3].all() and not both[0, 3:, 3:].any() and not both[0, 0, 5]
    assert int(both.sum()) == 36 - 9 - 1
    batch.frame_valid[0, 1] = False  # frame 1 is padding: pixel (0, 0) is now unseen
    assert not scoring_mask(batch, 3, "hr&lr")[0, :3, :3].any()
    with pytest.raises(ConfigError, match="unknown score_mask"):
        scoring_mask(batch, 3, "lr")
