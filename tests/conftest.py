"""Shared fixtures. Real data comes from ``$SATSR_TEST_DATA`` (``../shared/data`` by default);
when it is missing the tests that need it FAIL — they never skip silently."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_data() -> Path:
    env = os.environ.get("SATSR_TEST_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the real test data (PROBA-V scenes, Landsat/Sentinel-2 pair)."""
    path = _shared_data()
    if not (path / "probav" / "norm.csv").exists() or not (path / "l8s2").is_dir():
        pytest.fail(f"real test data not found at {path}: set SATSR_TEST_DATA to the shared "
                    "data folder (../shared/data)")
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
