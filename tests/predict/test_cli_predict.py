"""``satsr predict`` end to end: bad input (one line, exit != 0, nothing at the output path) and
the same bytes through a separate multi-process dask cluster as in process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from satsr.cli import app
from tests.predict.conftest import smooth_field, write_tif

CMD = [sys.executable, "-c", "from satsr.cli import main; main()"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CMD, "predict", *args, "--no-progress"], capture_output=True,
                          text=True, timeout=300)


def _one_line_error(res: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    assert "Traceback" not in res.stderr, res.stderr[-2000:]
    assert lines and lines[0].startswith("error:"), res.stderr
    assert fragment in " ".join(res.stderr.split()), res.stderr


@pytest.fixture
def good_tif(tmp_path: Path) -> Path:
    return write_tif(tmp_path / "good.tif", smooth_field((1, 24, 24)))


def _bad_cases(tmp_path: Path, good: Path) -> list[tuple[str, list[str], str, Path]]:
    nogeo = write_tif(tmp_path / "nogeo.tif", smooth_field((1, 16, 16)), crs=None)
    three = write_tif(tmp_path / "three.tif", smooth_field((3, 16, 16)))
    corrupt = tmp_path / "corrupt.tif"
    big = write_tif(tmp_path / "big.tif", smooth_field((1, 600, 600)))
    corrupt.write_bytes(big.read_bytes()[: big.stat().st_size // 2])
    garbage = tmp_path / "garbage.tif"
    garbage.write_bytes(b"II*\x00 this is not a tiff" * 10)
    stack = tmp_path / "stack"
    stack.mkdir()
    write_tif(stack / "a.tif", smooth_field((1, 16, 16)))
    write_tif(stack / "b.tif", smooth_field((1, 16, 16)), crs="EPSG:32603")
    clean = tmp_path / "clean"
    clean.mkdir()
    write_tif(clean / "a.tif", smooth_field((1, 16, 16)))
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    model = ["-m", "edsr-baseline:sample", "--bands", "RED"]
    return [
        ("no crs", [*model, "-i", str(nogeo)], "not georeferenced", tmp_path / "o1.tif"),
        ("bands", ["-m", "edsr-baseline:sample", "-i", str(three)], "3 data band(s)",
         tmp_path / "o2.tif"),
        ("scale", [*model, "-i", str(good), "--scale", "2"], "--scale 2 does not match",
         tmp_path / "o3.tif"),
        ("inside", [*model, "-i", str(clean)], "is inside the input", clean / "o4.tif"),
        ("same file", [*model, "-i", str(good)], "is inside the input", good),
        ("unwritable", [*model, "-i", str(good)], "cannot write to", blocker / "o5.tif"),
        ("corrupt", ["-m", "bicubic", "--tile", "1024", "-i", str(corrupt)], "truncated or corrupt",
         tmp_path / "o6.tif"),
        ("garbage", ["-m", "bicubic", "-i", str(garbage)], "not a readable GeoTIFF",
         tmp_path / "o7.tif"),
        ("mixed crs", ["-m", "bicubic", "-i", str(stack)], "mixes CRSs", tmp_path / "o8.tif"),
        ("weights", ["-m", "edsr-baseline:sample", "--bands", "B04", "-i", str(good)],
         "--allow-mismatch", tmp_path / "o9.tif"),
    ]


def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, good_tif: Path) -> None:
    for label, args, fragment, out in _bad_cases(tmp_path, good_tif):
        before = out.read_bytes() if out.exists() else None
        res = _run(*args, "-o", str(out), *(["--overwrite"] if label == "same file" else []))
        _one_line_error(res, fragment)
        after = out.read_bytes() if out.exists() else None
        assert after == before, label
        assert not list(out.parent.glob(f".{out.name}*")) if out.parent.is_dir() else True


def test_weights_mismatch_can_be_overridden(tmp_path: Path, good_tif: Path) -> None:
    res = CliRunner().invoke(app, ["predict", "-m", "edsr-baseline:sample", "--bands", "B04",
                                   "-i", str(good_tif), "-o", str(tmp_path / "o.tif"),
                                   "--allow-mismatch", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "o.tif").exists()


@pytest.mark.slow
def test_scheduler_on_a_separate_cluster_writes_the_same_bytes(tmp_path: Path) -> None:
    """``--scheduler ADDRESS``: the tiles run on another cluster's worker processes (started
    here) and the GeoTIFF is byte-identical to the in-process run."""
    distributed = pytest.importorskip("distributed")
    src = write_tif(tmp_path / "in.tif", smooth_field((1, 64, 60)))
    args = ["-m", "edsr-baseline:sample", "--bands", "RED", "-i", str(src), "--tile", "24",
            "--threads", "1"]
    local = _run(*args, "-o", str(tmp_path / "local.tif"))
    assert local.returncode == 0, local.stderr[-3000:]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", host="127.0.0.1") as cluster, \
            distributed.Client(cluster) as client:
        remote = _run(*args, "-o", str(tmp_path / "remote.tif"), "--scheduler",
                      cluster.scheduler_address)
        assert remote.returncode == 0, remote.stderr[-3000:]
        keys = client.run_on_scheduler(
            lambda dask_scheduler: sorted({str(e[0]) for e in dask_scheduler.transition_log}))
    assert len([k for k in keys if k.startswith("satsr-predict-remote-")]) >= 2, keys
    assert (tmp_path / "remote.tif").read_bytes() == (tmp_path / "local.tif").read_bytes()
    assert "9 tiles" in " ".join(local.stdout.split())


def test_unreachable_scheduler_is_one_line(tmp_path: Path, good_tif: Path) -> None:
    res = _run("-m", "bicubic", "-i", str(good_tif), "-o", str(tmp_path / "o.tif"),
               "--scheduler", "tcp://127.0.0.1:9")
    _one_line_error(res, "cannot reach the dask scheduler")
    assert not (tmp_path / "o.tif").exists()


def test_help_lists_the_formats() -> None:
    res = CliRunner().invoke(app, ["predict", "--help"])
    assert res.exit_code == 0
    assert "probav-submission" in res.output
    assert np.isfinite(1.0)
