"""The battery's shared tiny inputs (built once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.workspace import build_workspace


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Placeholder -> path of every battery input."""
    return build_workspace(tmp_path_factory.mktemp("battery") / "ws")


@pytest.fixture
def case_dir(tmp_path: Path) -> Path:
    """A case's own output folder (``{w}`` in the table)."""
    return tmp_path / "w"
