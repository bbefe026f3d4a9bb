"""The fetch flow's planning bound: an AOI too large to plan is refused in one line before any
request (it planned for minutes at ~4 GB), whatever --max-area-km2 allows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from satsr.cli import main
from satsr.errors import ConfigError
from satsr.fetch import pipeline
from satsr.fetch.pipeline import MAX_TILES, FetchConfig, fetch

HUGE = "-170,10,-110,70"  # 60° x 60°


def _forbid(*args: object, **kw: object) -> None:
    raise AssertionError("planned or searched despite the size")


def test_a_continent_sized_aoi_is_refused_before_planning(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "chips_covering", _forbid)
    monkeypatch.setattr(pipeline, "get_source", _forbid)
    cfg = FetchConfig(start=date(2023, 6, 1), end=date(2023, 6, 30), out=tmp_path / "out",
                      bbox=HUGE, source="local", max_area_km2=1e9, dry_run=True)
    with pytest.raises(ConfigError) as err:
        fetch(cfg)
    msg = str(err.value)
    assert "\n" not in msg and f"at most {MAX_TILES:,} tiles" in msg
    assert "split the AOI into parts under" in msg and "--tile-chips" in msg
    assert not (tmp_path / "out").exists()


def test_the_limit_counts_tiles_so_larger_tiles_pass(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    """43,575 km²: 3,066 tiles of 4x4 chips of 32 px (47,712 chips) is within the limit; with
    --tile-chips 1 it is ~47,000 tiles, refused with the count."""
    cfg = FetchConfig(start=date(2023, 6, 1), end=date(2023, 6, 30), out=tmp_path / "out",
                      bbox="-161,63,-157,65", source="local", max_area_km2=1e6, chip=32,
                      tile_chips=4, dry_run=True)
    aoi, spec, _ = pipeline._validate(cfg)
    tiles, n_chips = pipeline.plan_tiles(aoi, spec, cfg)
    assert len(tiles) <= MAX_TILES and n_chips > 40_000
    cfg.tile_chips = 1
    with pytest.raises(ConfigError, match=r"needs ~[\d,]+ tiles of 1x1 chips of 32 px"):
        pipeline.plan_tiles(aoi, spec, cfg)


def test_cli_dry_run_of_a_huge_aoi_is_one_line(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["fetch", "--bbox", HUGE, "--max-area-km2", "1e9", "--dry-run", "--source", "local",
              "--local-dir", str(tmp_path), "--start", "2023-06-01", "--end", "2023-06-30",
              "--out", str(tmp_path / "out"), "--no-progress"])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert info.value.code == 2 and len(err) == 1 and "split the AOI" in err[0], err
