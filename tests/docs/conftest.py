"""Fixtures of the documentation tests: generated and REAL bench results folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.results_fixture import make_results
from tests.docs.docs_site_helpers import satsr


@pytest.fixture(scope="session")
def generated_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root holding one generated results folder (dataset ``fixture``, RED + NIR)."""
    root = tmp_path_factory.mktemp("generated-results")
    make_results(root / "fixture-a", run_id="fixture-a", seed=1)
    return root


@pytest.fixture(scope="session")
def real_bench_results(tmp_path_factory: pytest.TempPathFactory, probav_root: Path) -> Path:
    """A REAL bench run: bicubic and mean-bicubic on the real PROBA-V scenes (with plots)."""
    root = tmp_path_factory.mktemp("bench-results")
    proc = satsr("bench", "--models", "bicubic,mean-bicubic", "--dataset", str(probav_root),
                 "--out", str(root / "probav-real"), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    return root
