"""The committed REAL-data results: every shipped model has rows on every real dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from satsr.bench.results import find_results, load_summary
from satsr.models.weights import list_pretrained

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
#: Real datasets of benchmarks/real_leaderboard.py: the PROBA-V scenes, chips fetched from the
#: real Landsat-9/Sentinel-2 pair, the Wald-protocol set cut from the real Sentinel-2 image.
REAL_DATASETS = ("probav", "chips:unalakleet", "wald-s2")


def _real_rows() -> dict[str, dict[str, set[str]]]:
    """{dataset kind: {band: models}} over every committed summary marked REAL."""
    out: dict[str, dict[str, set[str]]] = {}
    for folder in find_results(RESULTS):
        summary = load_summary(folder)
        if summary["dataset"]["synthetic"]:
            continue
        for table in summary["tables"]:
            kind = next((k for k in REAL_DATASETS if str(table["dataset"]) == k), None)
            assert kind is not None, f"{folder}: REAL table of unknown dataset {table['dataset']}"
            out.setdefault(kind, {}).setdefault(str(table["band"]), set()).update(
                str(r["model"]) for r in table["rows"])
    return out


@pytest.mark.parametrize("kind", REAL_DATASETS)
def test_every_shipped_model_has_a_real_data_row(kind: str) -> None:
    shipped = {str(w["model"]) for w in list_pretrained()}
    rows = _real_rows().get(kind)
    assert rows, f"no REAL results for {kind} under {RESULTS} (run benchmarks/real_leaderboard.py)"
    for band, models in rows.items():
        missing = shipped - models
        assert not missing, (f"{kind} {band}: shipped model(s) without a REAL-data row: "
                             f"{sorted(missing)} (run benchmarks/real_leaderboard.py)")
        assert {"bicubic", "mean-bicubic"} <= models


def test_real_tables_carry_intervals_and_remote_sensing_metrics() -> None:
    for folder in find_results(RESULTS):
        summary = load_summary(folder)
        if summary["dataset"]["synthetic"]:
            continue
        for table in summary["tables"]:
            for row in table["rows"]:
                assert "ergas" in row and "consistency_psnr" in row and "ci95" in row, folder
                if table["n_scenes"] >= 2:
                    assert "cpsnr" in row["ci95"], f"{folder}: no bootstrap interval"
