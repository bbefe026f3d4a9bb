"""The co-registration benchmark runs, and the numbers the docs quote are the committed ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "benchmarks/results_speed/coregister.json"
PAGE = REPO / "docs/concepts/coregistration.md"


@pytest.mark.slow
def test_quick_run_writes_results(l8s2_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "coregister.json"
    env = {**os.environ, "SATSR_TEST_DATA": str(l8s2_dir.parent)}
    subprocess.run([sys.executable, str(REPO / "benchmarks/bench_coregister.py"), "--quick",
                    "--out", str(out)], check=True, env=env, capture_output=True, timeout=600)
    res = json.loads(out.read_text())
    size = res["chip_sizes"]["32"]
    assert size["chips"] == 49 * 9
    assert set(size["methods"]) == set(_hook().COREG_LABELS)
    full = size["methods"]["satsr_full"]
    assert full["median_err_px"] <= 0.05 and full["p95_err_px"] <= 0.1
    # the equal-accuracy counterpart is really at least as accurate
    for sk, pair in size["equal_accuracy"].items():
        if pair["satsr_method"] is not None:
            ours = size["methods"][pair["satsr_method"]]
            assert ours["p95_err_px"] <= size["methods"][sk]["p95_err_px"] + 0.005


def _hook():  # type: ignore[no-untyped-def]
    import importlib.util

    spec = importlib.util.spec_from_file_location("speed_results", REPO / "docs/hooks/speed_results.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_docs_render_the_committed_results() -> None:
    """The page's table is rendered from the committed JSON, and the prose about the target
    matches it."""
    hook = _hook()
    res = json.loads(RESULTS.read_text())
    page = PAGE.read_text()
    assert "<!-- satsr:speed coregister -->" in page
    md = hook.on_page_markdown(page)
    assert "satsr:speed" not in md
    for chip, size in res["chip_sizes"].items():
        for name, m in size["methods"].items():
            row = f"| {chip} px | {hook.COREG_LABELS[name]} | {m['chips_per_s']:,.0f} | "
            assert row in md, row
    sp = {c: v["speedup_at_equal_accuracy"] for c, v in res["chip_sizes"].items()}
    assert "met on 32-px chips but not on 64-px chips" in page
    assert sp["32"] >= 5 > sp["64"], sp


def test_bad_results_fail_the_build(tmp_path: Path) -> None:
    from mkdocs.exceptions import PluginError

    hook = _hook()
    with pytest.raises(PluginError, match=r"coregister\.json: cannot render .*FileNotFoundError"):
        hook.render("coregister", tmp_path)
    (tmp_path / "coregister.json").write_text('{"chip_sizes": {"32": {}}}')
    with pytest.raises(PluginError, match=r"coregister\.json: cannot render .*KeyError"):
        hook.render("coregister", tmp_path)
    with pytest.raises(PluginError, match="no renderer"):
        hook.on_page_markdown("<!-- satsr:speed nothing -->")
