"""The speed benchmarks' committed results render in the docs, and the prose agrees with them."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "benchmarks/results_speed"
PAGE = REPO / "docs/concepts/performance.md"
NAMES = ("cpsnr", "losses", "probav_loading", "train_loop", "gan_step")


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("speed_results",
                                                  REPO / "docs/hooks/speed_results.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _res(name: str) -> dict[str, Any]:
    return dict(json.loads((RESULTS / f"{name}.json").read_text()))


def _paragraph(page: str, heading: str) -> str:
    return page.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("name", NAMES)
def test_page_renders_the_committed_results(name: str) -> None:
    page = PAGE.read_text()
    assert f"<!-- satsr:speed {name} -->" in page
    md = _hook().render(name)
    res = _res(name)
    machine = res["machine"]
    assert f"torch {machine['torch']}" in md
    assert ("**shared**" in md) == machine["shared"]
    assert not res["quick"]


def test_cpsnr_prose_and_table() -> None:
    res, md = _res("cpsnr"), _hook().render("cpsnr")
    prose = _paragraph(PAGE.read_text(), "cPSNR")
    for key, label in (("satsr_1t", "one thread"), ("satsr_2t", "two threads")):
        ratios = [c["ratio_vs_numba"][key] for c in res["cases"]]
        line = next(x for x in md.splitlines() if x.startswith(f"On {label}"))
        assert ("**not met**" in line) == (min(ratios) < res["target_ratio"])
        assert f"{min(ratios)}" in line
    assert "within 1e-9 dB in every case" in prose
    assert "**not met**" not in prose  # verdicts come from the JSON, through the hook
    assert all(c["max_abs_diff_db"] <= 1e-9 for c in res["cases"])
    for c in res["cases"]:
        assert f"| {c['case']} | {c['images_per_s']['numba_1t']:,.1f}" in md
    assert "0.34 ms and 1.0 ms" in prose  # the direct definition
    assert "0.22 ms per masked" in prose and "0.19 ms all clear" in prose  # satsr's algorithm
    synthetic = {c["bound_ms_per_image"] for c in res["cases"]
                 if c["size"] == 384 and c["case"].startswith("synthetic")}
    assert {round(b, 2) for b in synthetic} == {0.22, 0.19}


def test_losses_prose() -> None:
    res = _res("losses")
    prose = _paragraph(PAGE.read_text(), "cMSE as a training loss")
    worst = max(r["ratio_vs_mse"][k] for r in res["rows"] for k in ("cmse", "cl1"))
    md = _hook().render("losses")
    assert f"at most **{worst}×** plain MSE" in md
    assert ("**not met**" in md) == (worst > res["target_ratio"])
    assert "**not met**" not in prose
    assert [r["batch"] for r in res["rows"]] == [[16, 1, 384, 384], [64, 1, 96, 96]]


def test_loading_verdict_and_prose() -> None:
    res, md = _res("probav_loading"), _hook().render("probav_loading")
    best = max(res["ratio_vs_png"][k] for k in ("zarr", "zarr_dask"))
    verdict = "met" if best >= res["target_ratio"] else "**not met**"
    assert f"**{best}×** decoding the PNGs (wall clock); the target of 10× is {verdict}." in md
    assert f"crc32c {res['read_checks']['crc32c_ms']} ms" in md
    assert {o["dtype_on_disk"] for o in res["storage_options"]} == {"float32", "uint16"}
    assert {o["codec"] for o in res["storage_options"]} == {"zstd", "none"}
    prose = _paragraph(PAGE.read_text(), "Loading PROBA-V")
    assert "not met" not in prose and "is met" not in prose  # verdict: JSON, through the hook
    assert "uint16 `k` without compression" in prose  # the defaults the table measures


def test_train_loop_table() -> None:
    res, md = _res("train_loop"), _hook().render("train_loop")
    assert f"| ratio | **{res['ratio_satsr_over_bare']}** |" in md
    assert res["model"] == "edsr-baseline" and res["preset"] == "small"
    prose = _paragraph(PAGE.read_text(), "The training loop")
    met = res["ratio_satsr_over_bare"] >= res["target_ratio"]
    assert ("target of 0.9× is met" in prose) == met


def test_gan_step_table() -> None:
    res, md = _res("gan_step"), _hook().render("gan_step")
    assert f"| ratio vgg / small | **{res['ratio_vgg_over_small']}** |" in md
    assert res["recipe"] == "benchmarks/recipes/srgan.yaml"


@pytest.mark.slow
def test_quick_losses_run(tmp_path: Path) -> None:
    out = tmp_path / "losses.json"
    subprocess.run([sys.executable, str(REPO / "benchmarks/bench_losses.py"), "--quick",
                    "--out", str(out)], check=True, capture_output=True, timeout=600,
                   env={**os.environ})
    res = json.loads(out.read_text())
    assert res["quick"] and set(res["rows"][0]["ms"]) == {"mse", "cmse", "cl1", "l1-ssim"}
