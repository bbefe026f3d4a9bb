"""satsr.bench.report: number formatting, tables (CSV/Markdown), scatter plots, report.md."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from satsr.bench.report import (
    COLUMNS,
    format_value,
    markdown_table,
    scatter_data,
    sort_value,
    table_frame,
    write_report,
)
from satsr.bench.results import ResultsSchemaError, load_records, load_summary
from tests.bench.results_fixture import make_results


@pytest.mark.parametrize(
    ("key", "value", "text"),
    [
        ("psnr", 41.23456, "41.23"),
        ("psnr", 41.235001, "41.24"),
        ("ssim", 0.951249, "0.9512"),
        ("cpsnr", None, "—"),
        ("score", float("nan"), "—"),
        ("score", 0.98765, "0.9877"),
        ("delta_psnr", 0.5, "+0.50"),
        ("delta_psnr", -0.247, "−0.25"),
        ("delta_ssim", 0.0, "+0.0000"),
        ("params", 1234567, "1,234,567"),
        ("throughput_mpx_s", 12.345, "12.35"),
        ("n_scenes", 188, "188"),
        ("model", "mean-bicubic", "mean-bicubic"),
    ],
)
def test_format_value(key: str, value: object, text: str) -> None:
    assert format_value(key, value) == text


def test_sort_value_is_exact_and_empty_for_missing() -> None:
    assert float(sort_value("psnr", 41.23456)) == 41.23456
    assert sort_value("score", None) == ""
    assert sort_value("score", float("nan")) == ""


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_results(tmp_path_factory.mktemp("r") / "run", run_id="unit", seed=3)


def test_write_report_tables_match_the_summary(results: Path, tmp_path: Path) -> None:
    written = write_report(results, tmp_path / "out")
    summary = load_summary(results)
    assert all(p.exists() for p in written)
    assert (tmp_path / "out" / "report.md") in written
    for table in summary["tables"]:
        slug = f"{table['dataset']}_{table['band']}_{table['split']}"
        csv = pd.read_csv(tmp_path / "out" / "tables" / f"{slug}.csv")
        assert list(csv.columns) == [c.key for c in COLUMNS]
        assert list(csv["model"]) == [r["model"] for r in table["rows"]]
        for key in ("psnr", "ssim", "cpsnr", "score", "delta_cpsnr", "throughput_mpx_s"):
            np.testing.assert_allclose(csv[key], [r[key] for r in table["rows"]], rtol=1e-12)
        md = (tmp_path / "out" / "tables" / f"{slug}.md").read_text()
        for row in table["rows"]:
            line = next(x for x in md.splitlines() if x.startswith(f"| {row['model']} |"))
            assert f"| {format_value('psnr', row['psnr'])} |" in line
            assert f"| {format_value('cpsnr', row['cpsnr'])} |" in line
    assert not list((tmp_path / "out").rglob(".*tmp*")), "temporary files left behind"


def test_scatter_plot_per_table(results: Path, tmp_path: Path) -> None:
    written = write_report(results, tmp_path)
    plots = sorted(p.name for p in written if p.suffix == ".png")
    assert plots == ["scatter_fixture_NIR_test.png", "scatter_fixture_RED_test.png"]
    with Image.open(tmp_path / "plots" / plots[0]) as img:
        assert img.width > 300 and img.height > 300
        assert np.asarray(img.convert("L")).std() > 5  # not a blank canvas
    report = (tmp_path / "report.md").read_text()
    assert "![per-scene scatter fixture_RED_test](plots/scatter_fixture_RED_test.png)" in report
    assert "SYNTHETIC" in report


def test_scatter_data_uses_mean_bicubic_as_baseline(results: Path) -> None:
    records = load_records(results)
    found = scatter_data(records, "fixture", "RED", "test")
    assert found is not None
    baseline, wide = found
    assert baseline == "mean-bicubic"
    sel = records[(records.band == "RED") & (records.model == "bicubic")].set_index("scene")
    np.testing.assert_allclose(wide["bicubic"].sort_index(), sel["cpsnr"].sort_index())


def test_no_scatter_without_a_second_model(results: Path) -> None:
    records = load_records(results)
    only = records[records.model == "bicubic"]
    assert scatter_data(only, "fixture", "RED", "test") is None
    assert scatter_data(records, "fixture", "SWIR", "test") is None


def test_table_frame_keeps_nulls_as_nan(results: Path) -> None:
    table = dict(load_summary(results)["tables"][0])
    table["rows"] = [{**table["rows"][0], "score": None}]
    frame = table_frame(table)
    assert math.isnan(frame.loc[0, "score"])
    assert "| — |" in markdown_table(table["rows"])


def test_invalid_summary_writes_nothing(results: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    summary = json.loads((results / "summary.json").read_text())
    del summary["tables"][0]["rows"][0]["cpsnr"]
    (bad / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(ResultsSchemaError, match=r"tables\[0\]\.rows\[0\]\.cpsnr' is missing"):
        write_report(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_scatter_series_styles_are_unique_for_24_series() -> None:
    from satsr.bench.report import series_style

    styles = [series_style(i) for i in range(24)]
    assert len(set(styles)) == 24
