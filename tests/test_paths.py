"""satsr._paths: names from files and flags never become paths outside an output folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from satsr._paths import inside, safe_name
from satsr.errors import ConfigError


@pytest.mark.parametrize("name", ["../../..", "..", ".", "", "a/b", "a\\b", "chips:../../X",
                                  "/etc/passwd", "RED\x00", "x" * 500])
def test_hostile_names_become_one_component(name: str, tmp_path: Path) -> None:
    clean = safe_name(name)
    assert clean and clean not in (".", "..") and "/" not in clean and "\\" not in clean
    assert len(clean) <= 130
    assert inside(tmp_path, clean).parent == tmp_path


def test_plain_names_are_kept_and_distinct_names_stay_distinct() -> None:
    for name in ("RED", "blue+green+red+nir", "edsr-baseline", "probav_NIR.v2"):
        assert safe_name(name) == name
    assert safe_name("a/b") != safe_name("a_b") != safe_name("a:b")


@given(st.text(max_size=60))
def test_any_text_stays_inside(name: str) -> None:
    root = Path("/tmp/satsr-paths-root")
    assert inside(root, Path("tables") / f"{safe_name(name)}.csv").is_relative_to(root)


def test_inside_refuses_escapes(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="outside the output folder"):
        inside(tmp_path / "out", "tables/../../x.csv")
    with pytest.raises(ConfigError, match="outside the output folder"):
        inside(tmp_path / "out", "/etc/x")
