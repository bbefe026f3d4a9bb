"""``satsr._checks``: the shared validators refuse NaN, wrong types and unusable folders."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from satsr._checks import check_choice, check_device, check_float, check_int, check_output_dir
from satsr.errors import ConfigError


@pytest.mark.parametrize("value", [0, -1, 1.5, "3", True, None])
def test_check_int_refuses(value: object) -> None:
    with pytest.raises(ConfigError, match="--steps"):
        check_int("--steps", value)


def test_check_int_accepts() -> None:
    check_int("--steps", 1)
    check_int("--overlap", 0, minimum=0)
    check_int("--frames", None, optional=True)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, -1.0, 0.0, "x", None])
def test_check_float_refuses(value: object) -> None:
    with pytest.raises(ConfigError, match="--lr"):
        check_float("--lr", value, minimum=0.0, strict=True)


def test_check_float_bounds_are_inclusive_unless_strict() -> None:
    check_float("--max-cloud", 0.0, minimum=0.0, maximum=100.0)
    check_float("--max-cloud", 100, minimum=0.0, maximum=100.0)
    with pytest.raises(ConfigError, match="<= 100"):
        check_float("--max-cloud", 100.5, minimum=0.0, maximum=100.0)


def test_check_choice_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match="cosine, constant"):
        check_choice("--schedule", "sawtooth", ("cosine", "constant"))


@pytest.mark.parametrize("device", ["bogus", "cuda:abc", "cpu:0", "gpu"])
def test_check_device_refuses(device: str) -> None:
    with pytest.raises(ConfigError, match="--device"):
        check_device("--device", device)


def test_check_output_dir(tmp_path: Path) -> None:
    check_output_dir("--out", tmp_path / "a" / "b")  # creatable: fine, nothing created
    assert not (tmp_path / "a").exists()
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match="not a folder"):
        check_output_dir("--out", tmp_path / "f")
    with pytest.raises(ConfigError, match="is a file"):
        check_output_dir("--out", tmp_path / "f" / "sub")
