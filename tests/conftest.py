"""Shared fixtures. Real data comes from ``$SATSR_TEST_DATA`` (``../shared/data`` by default).

On a fresh clone without it, the tests that need it are skipped: the progress shows ``s``, the
last line counts them as "real-data skipped" (not mixed with ordinary skips) and one line above
it says how to provide the data; the leaderboard browser test skips the same way without
Chromium. ``SATSR_REQUIRE_REAL_DATA=1`` and ``SATSR_REQUIRE_BROWSER=1`` (set by ``.ci/run``) turn
those skips into failures, so CI never passes without them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: environment variables that turn a missing prerequisite from a skip into a failure
REQUIRE_REAL_DATA = "SATSR_REQUIRE_REAL_DATA"
REQUIRE_BROWSER = "SATSR_REQUIRE_BROWSER"


def _shared_data() -> Path:
    env = os.environ.get("SATSR_TEST_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


#: what each kind of missing prerequisite is called in the summary, and how to provide it
PREREQUISITES = {
    "real test data not found": (
        "real-data skipped", "real-data tests skipped: set SATSR_TEST_DATA to a folder with "
        "probav/ and l8s2/ (README, Tests; .ci/run requires them)"),
    "Chromium not found": (
        "browser skipped", "browser test skipped: apt-get install chromium or set "
        "SATSR_CHROMIUM (README, Tests; .ci/run requires it)"),
}


def _missing(reason: str, strict_var: str) -> None:
    """Skip the test for a missing prerequisite (``reason`` starts with a key of
    :data:`PREREQUISITES`), or fail it when ``strict_var`` is set to anything but 0."""
    if os.environ.get(strict_var, "") not in ("", "0"):
        pytest.fail(f"{reason} ({strict_var} is set, so this is a failure)", pytrace=False)
    pytest.skip(reason)


def _prerequisite(report: pytest.TestReport) -> str | None:
    """The :data:`PREREQUISITES` key of a test skipped for a missing prerequisite, else None."""
    if not report.skipped or not isinstance(report.longrepr, tuple):
        return None
    reason = str(report.longrepr[2]).removeprefix("Skipped: ")
    return next((key for key in PREREQUISITES if reason.startswith(key)), None)


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config
                             ) -> tuple[str, str, str] | None:
    """Count prerequisite skips under their own name, so ``-ra`` does not list each one."""
    key = _prerequisite(report)
    return (PREREQUISITES[key][0], "s", "SKIPPED") if key else None


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per missing prerequisite: how many tests it skipped and how to provide it."""
    for category, advice in PREREQUISITES.values():
        n = len(terminalreporter.stats.get(category, []))
        if n:
            terminalreporter.write_line(f"{n} {advice}", yellow=True, bold=True)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the real test data (PROBA-V scenes, Landsat/Sentinel-2 pair)."""
    path = _shared_data()
    if not (path / "probav" / "norm.csv").exists() or not (path / "l8s2").is_dir():
        _missing(f"real test data not found at {path}: set SATSR_TEST_DATA to a folder with "
                 "probav/ and l8s2/ (README, Tests)", REQUIRE_REAL_DATA)
    return path


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of the headless Chromium for the leaderboard browser test (``$SATSR_CHROMIUM``,
    else ``chromium`` on PATH)."""
    path = os.environ.get("SATSR_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        _missing(f"Chromium not found at {path}: apt-get install chromium or set SATSR_CHROMIUM "
                 "(README, Tests)", REQUIRE_BROWSER)
    return path


@pytest.fixture(scope="session")
def probav_root(shared_data: Path) -> Path:
    """The real PROBA-V scenes in the official layout."""
    return shared_data / "probav"


@pytest.fixture(scope="session")
def l8s2_dir(shared_data: Path) -> Path:
    """The real co-located Landsat-9 / Sentinel-2 GeoTIFF pair."""
    return shared_data / "l8s2"


@pytest.fixture(autouse=True)
def _isolated_data_home(tmp_path_factory: pytest.TempPathFactory,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep generated/downloaded data of every test out of the user's ~/.cache."""
    home = tmp_path_factory.getbasetemp() / "satsr-data-home"
    monkeypatch.setenv("SATSR_DATA", str(home))
