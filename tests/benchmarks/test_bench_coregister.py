"""The co-registration benchmark runs, and the numbers the docs quote are the committed ones."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "benchmarks/results_speed/coregister.json"
PAGE = REPO / "docs/concepts/coregistration.md"
LABELS = {  # docs table label → results key
    "satsr, full (what `satsr fetch` runs)": "satsr_full",
    "satsr, full, LR-only refinement": "satsr_full_lr",
    "satsr, phase correlation only": "satsr_pc",
    "skimage, upsample 20": "skimage_u20",
    "skimage, upsample 100": "skimage_u100",
    "skimage, upsample 20, satsr's window": "skimage_window_u20",
}


@pytest.mark.slow
def test_quick_run_writes_results(l8s2_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "coregister.json"
    env = {**os.environ, "SATSR_TEST_DATA": str(l8s2_dir.parent)}
    subprocess.run([sys.executable, str(REPO / "benchmarks/bench_coregister.py"), "--quick",
                    "--out", str(out)], check=True, env=env, capture_output=True, timeout=600)
    res = json.loads(out.read_text())
    size = res["chip_sizes"]["32"]
    assert size["chips"] == 49 * 9
    assert set(size["methods"]) == set(LABELS.values())
    full = size["methods"]["satsr_full"]
    assert full["median_err_px"] <= 0.05 and full["p95_err_px"] <= 0.1
    # the equal-accuracy counterpart is really at least as accurate
    for sk, pair in size["equal_accuracy"].items():
        if pair["satsr_method"] is not None:
            ours = size["methods"][pair["satsr_method"]]
            assert ours["p95_err_px"] <= size["methods"][sk]["p95_err_px"] + 0.005


def test_docs_quote_the_committed_results() -> None:
    res = json.loads(RESULTS.read_text())["chip_sizes"]
    rows = re.findall(r"^\| (\d+) px \| (.+?) \| ([\d,]+) \| ([\d.]+) \| ([\d.]+) \|$",
                      PAGE.read_text(), flags=re.M)
    assert len(rows) == sum(len(v["methods"]) for v in res.values())
    for chip, label, cps, med, p95 in rows:
        m = res[chip]["methods"][LABELS[label]]
        assert abs(int(cps.replace(",", "")) - m["chips_per_s"]) <= 1, (chip, label)
        assert float(med) == pytest.approx(m["median_err_px"], abs=5e-4), (chip, label)
        assert float(p95) == pytest.approx(m["p95_err_px"], abs=5e-4), (chip, label)
    quoted = re.search(r"satsr is \*\*([\d.]+)× faster on 32-px chips and ([\d.]+)×", PAGE.read_text())
    assert quoted is not None
    assert float(quoted[1]) == pytest.approx(res["32"]["speedup_at_equal_accuracy"], abs=0.05)
    assert float(quoted[2]) == pytest.approx(res["64"]["speedup_at_equal_accuracy"], abs=0.05)
