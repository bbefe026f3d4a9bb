"""Fixtures of the documentation tests: generated and REAL bench results folders."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest


def _helpers():  # type: ignore[no-untyped-def]
    """Load docs_site_helpers.py next to this file (also imported by test_site.py)."""
    if "docs_site_helpers" not in sys.modules:
        path = Path(__file__).with_name("docs_site_helpers.py")
        spec = importlib.util.spec_from_file_location("docs_site_helpers", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["docs_site_helpers"] = module
        spec.loader.exec_module(module)
    return sys.modules["docs_site_helpers"]


results_fixture, satsr = _helpers().results_fixture, _helpers().satsr


@pytest.fixture(scope="session")
def generated_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root holding one generated results folder (dataset ``fixture``, RED + NIR)."""
    root = tmp_path_factory.mktemp("generated-results")
    results_fixture().make_results(root / "fixture-a", run_id="fixture-a", seed=1)
    return root


@pytest.fixture(scope="session")
def real_bench_results(tmp_path_factory: pytest.TempPathFactory, probav_root: Path) -> Path:
    """A REAL bench run: bicubic and mean-bicubic on the real PROBA-V scenes (with plots)."""
    root = tmp_path_factory.mktemp("bench-results")
    proc = satsr("bench", "--models", "bicubic,mean-bicubic", "--dataset", str(probav_root),
                 "--out", str(root / "probav-real"), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    return root
