"""Scene-by-scene comparison of two models (``satsr report --compare``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from satsr.bench.compare import (
    N_BOOTSTRAP,
    SEED,
    compare_models,
    paired_bootstrap_ci,
    win_share,
    write_comparison,
)
from satsr.errors import ConfigError


def _records() -> pd.DataFrame:
    rows = []
    values = {"a": [40.0, 41.0, 42.0, 43.0], "b": [39.5, 41.0, 42.5, 42.0]}
    for model, vals in values.items():
        for i, v in enumerate(vals):
            rows.append({"dataset": "d", "split": "test", "band": "NIR", "scene": f"s{i}",
                         "model": model, "cpsnr": v, "score": 40.0 / v})
    rows.append({"dataset": "d", "split": "test", "band": "NIR", "scene": "s9", "model": "a",
                 "cpsnr": 50.0, "score": 0.8})  # unpaired: B has no record of s9
    return pd.DataFrame(rows)


def test_paired_numbers_by_hand() -> None:
    (c,) = compare_models(_records(), "a", "b")
    assert c.n_scenes == 4  # s9 is not paired
    assert c.mean_diff == pytest.approx((0.5 + 0.0 - 0.5 + 1.0) / 4)
    assert c.a_wins == pytest.approx((2 + 0.5) / 4)  # two wins, one tie, one loss
    assert c.ci_low <= c.mean_diff <= c.ci_high


def test_score_is_lower_is_better() -> None:
    (c,) = compare_models(_records(), "a", "b", metric="score")
    assert c.a_wins == pytest.approx((2 + 0.5) / 4)


def test_bootstrap_matches_a_plain_transcription() -> None:
    diff = np.array([0.5, 0.0, -0.5, 1.0, 0.25])
    rng = np.random.default_rng(SEED)
    means = []
    for _ in range(N_BOOTSTRAP):
        means.append(diff[rng.integers(0, diff.size, size=diff.size)].mean())
    want = np.quantile(np.array(means), [0.025, 0.975])
    got = paired_bootstrap_ci(diff)
    assert got == pytest.approx(tuple(want), abs=1e-12)
    assert np.isnan(paired_bootstrap_ci(diff[:1])[0])
    assert win_share(np.array([1.0, -1.0]), True) == 0.5


def test_errors_name_the_problem() -> None:
    with pytest.raises(ConfigError, match="'zzz' has no records"):
        compare_models(_records(), "a", "zzz")
    with pytest.raises(ConfigError, match="two different models"):
        compare_models(_records(), "a", "a")
    with pytest.raises(ConfigError, match="cannot compare on 'lpips'"):
        compare_models(_records(), "a", "b", metric="lpips")


def test_written_files(tmp_path: Path) -> None:
    _, written = write_comparison(_records(), "a", "b", tmp_path)
    names = sorted(p.name for p in written)
    assert names == ["a_vs_b_cpsnr.csv", "a_vs_b_cpsnr.md", "a_vs_b_cpsnr_d_NIR_test.png"]
    assert all(p.parent == tmp_path / "compare" and p.stat().st_size > 0 for p in written)
