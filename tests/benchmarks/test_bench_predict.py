"""The predict benchmark runs end to end at a tiny size, its reference sample is what its
docstring says, and the docs render the committed results with prose that agrees with them."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "benchmarks/results_speed/predict.json"
PAGE = REPO / "docs/concepts/performance.md"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _bench() -> ModuleType:
    return _load("bench_predict", REPO / "benchmarks/bench_predict.py")


def _res() -> dict[str, Any]:
    return dict(json.loads(RESULTS.read_text()))


def test_tile_count_and_the_bare_loop_sample() -> None:
    bench = _bench()
    assert bench.tiles_at(10000, 256) == 1600 and bench.tiles_at(1024, 256) == 16
    groups = [[i] * 4 for i in range(100)]  # 100 batches of 4 "tiles"
    sample = bench.sample_batches(groups, 24, 4)
    assert [g[0] for g in sample] == [0, 20, 40, 59, 79, 99]  # 6 batches = 24 tiles, spread
    assert bench.sample_batches(groups[:3], 24, 4) == groups[:3]  # fewer than the sample: all
    # a short first batch (a corner tile alone) does not change how many batches are taken
    assert len(bench.sample_batches([[0], *groups[1:]], 24, 4)) == 6


def test_a_tiny_run_writes_consistent_results(tmp_path: Path) -> None:
    out = tmp_path / "predict.json"
    subprocess.run([sys.executable, str(REPO / "benchmarks/bench_predict.py"), "--size", "64",
                    "--size", "40", "--tile", "32", "--batch", "2", "--threads", "1",
                    "--bare-sample", "2", "--io-check", "48", "--target", "96", "--out", str(out)],
                   check=True, capture_output=True, timeout=600)
    res = json.loads(out.read_text())
    sizes = [r["size_lr_px"] for r in res["runs"]]
    assert sizes == [64, 40] and res["headline"]["size_lr_px"] == 64
    head = res["headline"]
    assert head["n_tiles"] == 4 and head["bare_sample_tiles"] == 2 and head["threads"] == 1
    per_tile = head["tile_loop_s"] / 4  # the ratio compares per-tile times (values rounded)
    assert head["ratio_tile_loop_vs_bare"] == pytest.approx(head["bare_s_per_tile"] / per_tile,
                                                            rel=0.2)
    assert res["io_check"]["model"] == "bicubic" and res["io_check"]["size_lr_px"] == 48
    assert not res["target_measured"] and res["target_estimate_s"] >= 0
    assert res["peak_rss_gb_max"] == max(r["peak_rss_gb"] for r in res["runs"])
    hook = _load("predict_example", REPO / "docs/hooks/predict_example.py")
    md = hook.speed_table(out)
    assert "| 64² px | `edsr-baseline` | 4 (32/10)" in md and "I/O memory check" in md


def test_docs_render_the_committed_results_and_the_prose_agrees() -> None:
    res, page = _res(), PAGE.read_text()
    section = page.split("## Predicting large rasters", 1)[1].split("\n## ", 1)[0]
    assert "<!-- satsr:predict-speed -->" in section
    section = " ".join(section.split())  # phrases may wrap
    md = _load("predict_example", REPO / "docs/hooks/predict_example.py").speed_table()
    for r in res["runs"]:
        assert f"| {r['size_lr_px']:,}² px | `{r['model']}` |" in md
        assert f"{r['peak_rss_gb']:.2f} GB" in md
    head = res["headline"]
    assert head["threads"] == 1 and res["target_measured"]  # the run the page describes
    assert head["size_lr_px"] == res["target_size_lr_px"] == 10000
    under = res["peak_rss_gb_max"] < 2 and (res["io_check"] or {}).get("peak_rss_gb", 0) < 2
    assert ("under 2 GB" in section) == under
    sizes = {r["size_lr_px"]: r for r in res["runs"]}
    assert set(sizes) == {2048, 10000}
    assert (f"{sizes[2048]['peak_rss_gb']:.2f} GB at 2,048² and "
            f"{sizes[10000]['peak_rss_gb']:.2f} GB at 10,000²") in section
    assert f"about {round(head['end_to_end_s'] / 60)} minutes" in section
    assert f"{head['tiles_per_s']} tiles/s" in section
    met = min(head["ratio_tile_loop_vs_bare"], head["ratio_end_to_end_vs_bare"]) >= 0.9
    assert (f"**{head['ratio_tile_loop_vs_bare']}×** over the tile loop and "
            f"**{head['ratio_end_to_end_vs_bare']}×** end to end") in section
    assert ("the target of 0.9× is met" in section) == met
    io = res["io_check"]
    assert io["size_lr_px"] >= res["target_size_lr_px"] and io["peak_rss_gb"] < 2
    extra_ms = (io["tile_loop_s"] / io["n_tiles"] - io["bare_s_per_tile"]) * 1000
    assert f"is about {extra_ms:.0f} ms" in section
