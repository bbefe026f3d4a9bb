"""The synthetic→real gap: the committed JSON is consistent and the cards show its numbers."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from satsr.datasets.simulate import gap

REPO = Path(__file__).resolve().parents[3]
JSON = REPO / "benchmarks" / "results" / "calibration_gap.json"
CARDS = (REPO / "datasets" / "sample" / "README.md", REPO / "docs" / "datasets" / "sample.md")
HOME = REPO / "docs" / "index.md"


def _result() -> dict[str, Any]:
    return json.loads(JSON.read_text(encoding="utf-8"))


def _band(real_gain: float, syn_gain: float) -> dict[str, Any]:
    ref = 50.0
    return {"synthetic": {"cpsnr": 44.0 + syn_gain, "reference_cpsnr": 44.0, "gain": syn_gain},
            "real": {"cpsnr": ref + real_gain, "reference_cpsnr": ref, "gain": real_gain},
            "gap": syn_gain - real_gain}


def _toy() -> dict[str, Any]:
    """Two models, two bands: rams ahead on REAL RED only after calibration."""
    def model(kind: str, shipped: tuple[float, float], calibrated: tuple[float, float]) -> dict:
        return {"kind": kind, "variants": {
            "shipped": {"bands": {"NIR": _band(shipped[0], 1.0), "RED": _band(shipped[1], 1.0)}},
            "calibrated": {"bands": {"NIR": _band(calibrated[0], 0.5),
                                     "RED": _band(calibrated[1], 0.5)}}}}

    return {"reference": "mean-bicubic",
            "datasets": {"real": {"n_scenes": {"NIR": 1, "RED": 1}},
                         "sample": {"n_scenes": {"NIR": 8, "RED": 8}},
                         "sample-calibrated": {"n_scenes": {"NIR": 8, "RED": 8}}},
            "models": {"rams": model("multi", (-2.0, -0.1), (-1.0, 0.25)),
                       "srcnn": model("single", (-1.0, 0.3), (-0.5, 0.4))}}


def test_the_committed_json_is_self_consistent() -> None:
    result = _result()
    assert result["reference"] == "mean-bicubic"
    assert sum(result["datasets"]["real"]["n_scenes"].values()) >= 2
    assert result["datasets"]["real"]["synthetic"] is False
    from satsr.datasets.simulate.calibrated import CALIBRATED_VERSION

    assert result["datasets"]["sample-calibrated"]["version"]["calibrated_version"] == (
        CALIBRATED_VERSION), "the calibrated sample changed: re-run benchmarks/calibration_gap.py"
    for name, m in result["models"].items():
        assert (REPO / m["recipe"]).is_file(), name
        assert set(m["variants"]) == {"shipped", "calibrated"}
        assert m["variants"]["calibrated"]["trained_on"] == "sample-calibrated"
        assert m["variants"]["shipped"]["trained_on"] == "sample"
        for variant in m["variants"].values():
            assert len(variant["weights_sha256"]) == 64
            assert variant["bands"], name
            for b in variant["bands"].values():
                for split in ("synthetic", "real"):
                    s = b[split]
                    assert s["gain"] == pytest.approx(s["cpsnr"] - s["reference_cpsnr"], abs=1e-9)
                assert b["gap"] == pytest.approx(b["synthetic"]["gain"] - b["real"]["gain"],
                                                 abs=1e-9)


def test_the_shipped_variant_uses_the_shipped_weights() -> None:
    from satsr.models.weights import read_sidecar

    for name, m in _result()["models"].items():
        shipped = m["variants"]["shipped"]
        path = REPO / shipped["weights"]
        assert path.parent.name == "pretrained", name
        assert read_sidecar(path)["sha256"] == shipped["weights_sha256"], (
            f"{path} changed since the gap run: re-run benchmarks/calibration_gap.py")


def test_the_cards_and_home_page_show_the_numbers_of_the_json() -> None:
    result = _result()
    section = gap.gap_markdown(result)
    for card in CARDS:
        assert section in card.read_text(encoding="utf-8"), (
            f"{card} is stale: run benchmarks/calibration_gap.py --render")
    assert gap.home_markdown(result) in HOME.read_text(encoding="utf-8"), (
        f"{HOME} is stale: run benchmarks/calibration_gap.py --render")


def test_the_table_shows_each_gain_and_gap() -> None:
    text = gap.gap_markdown(_toy())
    assert "| rams | multi | RED | `sample-calibrated` | +0.50 | +0.25 | +0.25 | 50.25 |" in text
    assert "| srcnn | single | NIR | `sample` (shipped) | +1.00 | -1.00 | +2.00 | 49.00 |" in text
    assert "2 REAL PROBA-V scenes (1 NIR, 1 RED)" in text


def test_the_verdict_names_only_multi_frame_winners_on_real_data() -> None:
    toy = _toy()
    text = gap.verdict(toy)
    assert "Only partly" in text
    assert "`sample-calibrated` — NIR: none; RED: rams (+0.25 dB)" in text
    assert "`sample` (shipped) — NIR: none; RED: none" in text  # srcnn's +0.3 is single-image
    assert "settles nothing" in text
    # rams (multi): gaps (3 + 1.1) / 2 → (1.5 + 0.25) / 2; real gains (-2 - 0.1) / 2 → ...
    assert ("multi-frame (1 model) gap 2.05 → 0.88 dB (synthetic gain +1.00 → +0.50, "
            "REAL gain -1.05 → -0.38)") in text
    assert ("single-image (1 model) gap 1.35 → 0.55 dB (synthetic gain +1.00 → +0.50, "
            "REAL gain -0.35 → -0.05)") in text
    # all models and bands: median of gaps 3, 1.1, 2, 0.7
    assert gap.median_over(toy, "shipped") == pytest.approx(1.55)
    worse = copy.deepcopy(toy)
    worse["models"]["rams"]["variants"]["calibrated"]["bands"]["RED"] = _band(-0.01, 0.5)
    assert "? No.**" in gap.verdict(worse)


def test_replace_section_replaces_only_the_generated_block() -> None:
    text = f"# t\n\nkept\n\n{gap.GAP_BEGIN}\nold\n{gap.GAP_END}\n\ntail\n"
    new = f"{gap.GAP_BEGIN}\nnew\n{gap.GAP_END}"
    out = gap.replace_section(text, new, gap.GAP_BEGIN, gap.GAP_END, gap.HEADING)
    assert out == f"# t\n\nkept\n\n{new}\n\ntail\n"
    appended = gap.replace_section("# t\n", new, gap.GAP_BEGIN, gap.GAP_END, gap.HEADING)
    assert appended == f"# t\n\n{gap.HEADING}\n\n{new}\n"
