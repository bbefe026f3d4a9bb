"""A fresh clone without the real data or Chromium: the suite passes with those tests skipped
and one summary line per kind saying how to provide it; the CI variables make them failures."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REAL_DATA_TESTS = "tests/fetch/sources/test_local.py"  # quick; both its tests read l8s2/
BROWSER_TEST = "tests/docs/test_site.py::test_leaderboard_in_chromium"


def _pytest(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items()
            if k not in ("SATSR_REQUIRE_REAL_DATA", "SATSR_REQUIRE_BROWSER", "PYTEST_XDIST_WORKER")}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
                          cwd=REPO, env={**base, **env}, capture_output=True, text=True, timeout=300)


def test_missing_real_data_skips_with_one_line(tmp_path: Path) -> None:
    proc = _pytest(REAL_DATA_TESTS, SATSR_TEST_DATA=str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:]
    lines = [ln for ln in proc.stdout.splitlines() if "SATSR_TEST_DATA" in ln]
    assert len(lines) == 1, proc.stdout[-3000:]
    match = re.fullmatch(r"(\d+) real-data tests skipped: set SATSR_TEST_DATA to a folder with "
                         r"probav/ and l8s2/ \(README, Tests; .ci/run requires them\)", lines[0])
    assert match and int(match.group(1)) == 2, lines[0]
    assert f"{match.group(1)} real-data skipped" in proc.stdout.splitlines()[-1]
    assert "not found" not in proc.stdout  # no per-test skip lines


def test_strict_variable_turns_the_skips_into_failures(tmp_path: Path) -> None:
    proc = _pytest(REAL_DATA_TESTS, SATSR_TEST_DATA=str(tmp_path), SATSR_REQUIRE_REAL_DATA="1")
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "SATSR_REQUIRE_REAL_DATA is set" in proc.stdout
    assert re.search(r"\b\d+ errors?\b", proc.stdout.splitlines()[-1]), proc.stdout[-500:]
    assert "skipped" not in proc.stdout.splitlines()[-1]


@pytest.mark.parametrize("strict", [False, True])
def test_missing_chromium(tmp_path: Path, strict: bool) -> None:
    env = {"SATSR_CHROMIUM": str(tmp_path / "no-chromium")}
    if strict:
        env["SATSR_REQUIRE_BROWSER"] = "1"
    proc = _pytest(BROWSER_TEST, **env)
    assert proc.returncode == (1 if strict else 0), proc.stdout[-3000:]
    last = proc.stdout.splitlines()[-1]
    if strict:
        assert "Chromium not found at" in proc.stdout and "1 error" in last
    else:
        assert "1 browser test skipped: apt-get install chromium" in proc.stdout
        assert "1 browser skipped" in last
