"""``satsr datasets make`` on the REAL Sentinel-2 image: the store trains and benches;
bad input is one line with exit 2 and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from satsr.cli import app, main
from satsr.testing.real_pair import S2_FILE

S2 = S2_FILE


def _make(l8s2_dir: Path, out: Path, *extra: str) -> list[str]:
    return ["datasets", "make", "--from", str(l8s2_dir / S2), "--sensor", "sentinel2",
            "--out", str(out), *extra]


def test_make_then_train_and_bench(tmp_path: Path, l8s2_dir: Path) -> None:
    store = tmp_path / "wald.zarr"
    res = CliRunner().invoke(app, _make(l8s2_dir, store, "--scale", "3", "--frames", "2"))
    assert res.exit_code == 0, res.output
    assert f"ready: {store}" in res.output
    run = tmp_path / "run"
    res = CliRunner().invoke(app, ["train", "--model", "srcnn", "--dataset", str(store),
                                   "--steps", "2", "--val-every", "2", "--out", str(run),
                                   "--no-progress"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["bench", "--dataset", str(store), "--split", "test",
                                   "--models", f"bicubic,mean-bicubic,srcnn:{run}/best.safetensors",
                                   "--out", str(tmp_path / "b"), "--no-progress", "--no-strips"])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    (table,) = summary["tables"]
    assert {r["model"] for r in table["rows"]} == {"bicubic", "mean-bicubic", "srcnn"}
    for row in table["rows"]:
        assert row["ergas"] > 0 and row["sam"] > 0 and row["consistency_psnr"] > 0
    assert "REAL, 4 scenes" in res.output


@pytest.mark.parametrize(("extra", "match"), [
    (["--scale", "2.5"], "--scale must be an integer"),
    (["--scale", "3", "--chip", "200"], "smaller than one chip"),
    (["--scale", "3", "--sensor", "spot5"], "unknown sensor"),
])
def test_bad_input_is_one_line(tmp_path: Path, l8s2_dir: Path, extra: list[str],
                               match: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o.zarr"
    with pytest.raises(SystemExit) as info:
        main([*_make(l8s2_dir, out), *extra])
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and match in lines[0], err
    assert not out.exists()
