"""``satsr models``: the zoo table with published and preset parameter counts."""

from __future__ import annotations

import pytest

from satsr.cli import main


def test_models_lists_every_model(capsys: pytest.CaptureFixture[str]) -> None:
    from satsr.models import list_models

    main(["models"])
    out = capsys.readouterr().out
    for name in list_models():
        assert name in out
    assert "591,818" in out  # HighRes-net as published


def test_models_filters_and_counts(capsys: pytest.CaptureFixture[str]) -> None:
    main(["models", "edsr*", "--scale", "4", "--in-channels", "3"])
    out = capsys.readouterr().out
    assert "43,089,923" in out and "1,517,571" in out
    assert "rdn" not in out
    main(["models", "--kind", "multi", "--no-params"])
    out = capsys.readouterr().out
    assert "rams" in out and "edsr" not in out


def test_models_bad_kind_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["models", "--kind", "triple"])
    assert exc.value.code == 2
    assert "unknown kind" in capsys.readouterr().err
