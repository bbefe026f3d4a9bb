"""What a bench run may write: only inside its folder, never over files satsr did not write,
and nothing at all when it fails before scoring a scene."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from satsr import schema
from satsr.bench import BenchConfig, run_bench
from satsr.bench import results as res
from satsr.datasets import load_datasets
from satsr.errors import ConfigError, InputValueError
from satsr.models import ModelInfo, register_model, unregister_model
from tests.bench.test_run import nans  # noqa: F401  (the entrypoint registered below)


def bench(dataset: str | Path, out: Path, models: str, **kw: Any) -> Any:
    return run_bench(BenchConfig(models=models, dataset=str(dataset), out=out, progress=False,
                                 **kw))


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def nan_model() -> Any:
    register_model(ModelInfo(name="zz-nan2", entrypoint="tests.bench.test_run:nans",
                             kind="baseline", paper="test", year=2026, learned=False))
    yield "zz-nan2"
    unregister_model("zz-nan2")


@pytest.mark.parametrize("foreign", [
    {"summary.json": '{"mine": true}\n', "report.md": "# my notes\n"},
    {"report.md": "# my notes\n"},
    {"records.csv": "a,b\n1,2\n"},
])
def test_foreign_results_are_refused_then_replaced_with_overwrite(
        probav_root: Path, tmp_path: Path, foreign: dict[str, str]) -> None:
    out = tmp_path / "theirs"
    out.mkdir()
    for name, text in foreign.items():
        (out / name).write_text(text)
    before = _files(out)
    with pytest.raises(ConfigError, match="that satsr did not write; choose another --out or "
                                          "pass --overwrite"):
        bench(probav_root, out, "bicubic", strips=False)
    assert _files(out) == before
    bench(probav_root, out, "bicubic", strips=False, overwrite=True)
    assert res.load_summary(out)["generator"] == "satsr bench"
    assert len(res.load_records(out)) == 2


def test_older_results_folder_needs_overwrite(probav_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "old"
    bench(probav_root, out, "bicubic", strips=False)
    old = res.load_records(out).drop(columns=["model_key", "data_key", "metric_key"])
    old.to_parquet(out / "records.parquet")
    with pytest.raises(res.ResultsSchemaError, match="older satsr without result identities"):
        bench(probav_root, out, "bicubic", strips=False)
    bench(probav_root, out, "bicubic", strips=False, overwrite=True)
    assert len(res.load_records(out)) == 2


def test_another_dataset_in_the_folder_is_refused(probav_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    bench(probav_root, out, "bicubic", strips=False)
    with pytest.raises(ConfigError, match="holds results for dataset 'probav', not 'sample'"):
        bench("sample", out, "bicubic", strips=False)


def test_failure_before_any_score_leaves_nothing(probav_root: Path, tmp_path: Path,
                                                 nan_model: str) -> None:
    out = tmp_path / "new" / "r"
    with pytest.raises(InputValueError, match="NaN/inf"):
        bench(probav_root, out, nan_model)
    assert not (tmp_path / "new").exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    with pytest.raises(InputValueError, match="NaN/inf"):
        bench(probav_root, kept, nan_model)
    assert list(kept.iterdir()) == []
    # a failure after a finished model keeps that model's complete, resumable rows
    with pytest.raises(InputValueError, match="NaN/inf"):
        bench(probav_root, kept, f"bicubic,{nan_model}", strips=False)
    assert set(res.load_records(kept)["model"]) == {"bicubic"}
    res.load_summary(kept)
    assert not [p for p in kept.iterdir() if p.name.startswith(".")]


def test_hostile_band_and_dataset_names_stay_inside(probav_root: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    ds = load_datasets(str(probav_root), band="RED")[0].load()
    ds = ds.assign_coords(band=["../../../escaped"])
    ds.attrs["dataset"] = "chips:../../X"
    store = schema.save_dataset(ds, tmp_path / "data" / "evil.zarr")
    work = tmp_path / "work" / "cwd"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    result = run_bench(BenchConfig(models="bicubic,mean-bicubic", dataset=str(store),
                                   progress=False))
    assert result.out.resolve().parent == (work / "satsr-results").resolve()
    created = {p.relative_to(tmp_path).parts[0] for p in tmp_path.rglob("*")}
    assert created == {"data", "work"}
    assert not (tmp_path / "escaped").exists() and not list(tmp_path.rglob("escaped*.csv"))
    outputs = [p for p in (tmp_path / "work").rglob("*") if p.is_file()]
    assert all(p.resolve().is_relative_to(result.out.resolve()) for p in outputs)
    summary = res.load_summary(result.out)
    assert summary["plots"]["strips"] and summary["plots"]["scatter"]
    assert {t["band"] for t in summary["tables"]} == {"../../../escaped"}
    records = pd.read_csv(result.out / "records.csv")
    assert set(records["band"]) == {"../../../escaped"}
