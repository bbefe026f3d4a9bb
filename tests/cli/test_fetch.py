"""``satsr fetch --source local`` end to end on the REAL Unalakleet pair: the store, dry run,
bad input (one line, exit 2, nothing written) and resumption after SIGKILL (byte-identical)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from satsr.cli import app, main
from satsr.datasets import open_dataset
from satsr.testing import assert_sample_schema
from satsr.testing.real_pair import write_local_manifest

REPO = Path(__file__).resolve().parents[2]
AOI = REPO / "datasets" / "aoi" / "unalakleet.geojson"


def _args(src: Path, out: Path, *extra: str) -> list[str]:
    return ["fetch", "--source", "local", "--local-dir", str(src), "--aoi", str(AOI),
            "--start", "2023-10-01", "--end", "2023-10-31", "--pair-days", "120",
            "--chip", "32", "--out", str(out), "--no-progress", *extra]


@pytest.fixture(scope="module")
def local_src(tmp_path_factory: pytest.TempPathFactory, l8s2_dir: Path) -> Path:
    return write_local_manifest(tmp_path_factory.mktemp("local") / "src", l8s2_dir)


def _tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_fetch_local_end_to_end(tmp_path: Path, local_src: Path) -> None:
    out = tmp_path / "chips"
    res = CliRunner().invoke(app, _args(local_src, out, "--tile-chips", "2"))
    if res.exc_info is not None and res.exit_code:
        import traceback
        traceback.print_exception(*res.exc_info)
    assert res.exit_code == 0, res.output
    ds = open_dataset(out)
    assert_sample_schema(ds, scale=3)
    assert ds.sizes["y"] == 32 and ds.sizes["Y"] == 96 and ds.sizes["scene"] >= 4
    assert ds.attrs["value_scale"] == "reflectance" and ds.attrs["scale"] == 3
    assert [str(b) for b in ds["band"].values] == ["blue", "green", "red", "nir"]
    assert {str(v) for v in ds["crs"].values} == {"EPSG:32604"}
    hr = ds["hr"].values
    lr = ds["lr"].values[:, 0]
    assert 0 < float(np.median(hr[ds["hr_mask"].values[:, None].repeat(4, 1)])) < 0.5
    assert 0 < float(np.median(lr[ds["lr_mask"].values[:, 0, None].repeat(4, 1)])) < 0.5
    # chips lie on the nested lattice: LR transform x3 finer = HR transform
    t_hr, t_lr = ds["hr_transform"].values, ds["lr_transform"].values
    np.testing.assert_allclose(t_lr[:, [0, 4]], 3 * t_hr[:, [0, 4]])
    np.testing.assert_allclose(t_lr[:, [2, 5]], t_hr[:, [2, 5]])
    assert np.all(np.mod(t_lr[:, [2, 5]], 30) == 0)
    assert ds["dt_days"].values[0, 0] == pytest.approx(-101.02, abs=0.01)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["source"] == "local" and prov["crs"] == "EPSG:32604"
    assert prov["coregistration"]["status_counts"]
    assert len(prov["chips"]) == ds.sizes["scene"]
    feats = json.loads((out / "footprints.geojson").read_text())["features"]
    assert len(feats) == ds.sizes["scene"]
    assert not (out / ".work").exists()
    # a rerun reuses the finished store; other parameters into the same folder are refused
    again = CliRunner().invoke(app, _args(local_src, out, "--tile-chips", "2"))
    assert again.exit_code == 0 and "reused" in again.output
    other = CliRunner().invoke(app, _args(local_src, out, "--tile-chips", "2", "--min-valid", "0.9"))
    assert other.exit_code != 0 and "other parameters" in str(other.exception)


def test_dry_run_writes_nothing(tmp_path: Path, local_src: Path) -> None:
    out = tmp_path / "dry"
    res = CliRunner().invoke(app, _args(local_src, out, "--dry-run"))
    assert res.exit_code == 0, res.output
    assert "S2_20231009" in res.output and "L9_20230630" in res.output
    assert "requests:" in res.output and "Δt -101.0 d" in res.output
    assert not out.exists()


@pytest.mark.parametrize(("extra", "match"), [
    (["--start", "2023-10-31", "--end", "2023-10-01"], "before --start"),
    (["--start", "2024-01-01", "--end", "2024-01-31"], "no Sentinel-2 acquisitions"),
    (["--start", "2023-06-01", "--pair-days", "3"], "raise --pair-days"),
    (["--scheduler", "tcp://127.0.0.1:9"], "cannot reach the dask scheduler"),
    (["--max-area-km2", "5"], "more than the limit"),
    (["--bands", "red,swir"], "unknown band"),
    (["--start", "2023-13-01"], "not a date"),
    (["--harmonize"], "--harmonize needs B8A"),
])
def test_bad_input_one_line_nothing_written(tmp_path: Path, local_src: Path, extra: list[str],
                                            match: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as info:
        main([*_args(local_src, out), *extra])
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and match in lines[0], err
    assert not out.exists()


def test_bad_aoi_files(tmp_path: Path, local_src: Path) -> None:
    bad = tmp_path / "bowtie.geojson"
    bad.write_text(json.dumps({"type": "Polygon", "coordinates": [
        [[-160.8, 63.86], [-160.76, 63.89], [-160.76, 63.86], [-160.8, 63.89], [-160.8, 63.86]]]}))
    out = tmp_path / "never"
    args = _args(local_src, out)
    args[args.index("--aoi") + 1] = str(bad)
    proc = subprocess.run([sys.executable, "-c", "from satsr.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Self-intersection" in proc.stderr
    assert not out.exists()


@pytest.mark.slow
def test_resume_after_sigkill_is_byte_identical(tmp_path: Path, local_src: Path) -> None:
    cmd = [sys.executable, "-c", "from satsr.cli import main; main()"]
    full = tmp_path / "full"
    subprocess.run([*cmd, *_args(local_src, full, "--tile-chips", "1")], check=True,
                   capture_output=True, timeout=600)
    part = tmp_path / "part"
    proc = subprocess.Popen([*cmd, *_args(local_src, part, "--tile-chips", "1")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tiles = part / ".work" / "tiles"

    def finished() -> set[str]:  # tile records; hidden names are atomic-write temp files
        return {p.name for p in tiles.glob("*.json") if not p.name.startswith(".")}

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not finished():
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert finished(), "no tile finished before the kill"
    assert not (part / "chips.zarr").exists(), "the run finished before it could be killed"
    done_before = finished()
    res = subprocess.run([*cmd, *_args(local_src, part, "--tile-chips", "1")], check=True,
                         capture_output=True, text=True, timeout=600)
    found = re.search(r"\((\d+) of \d+ tiles reused\)", " ".join(res.stdout.split()))
    assert found, res.stdout
    reused = int(found[1])
    assert reused >= len(done_before)
    assert _tree(part / "chips.zarr") == _tree(full / "chips.zarr")
    assert (part / "provenance.json").read_bytes() == (full / "provenance.json").read_bytes()


@pytest.mark.slow
def test_fetch_on_a_separate_dask_cluster_matches_the_local_run(tmp_path: Path, local_src: Path) -> None:
    """``--scheduler ADDRESS``: tiles run on another cluster's worker processes (started here,
    reached over TCP) and give the same chips as the default in-process cluster."""
    distributed = pytest.importorskip("distributed")
    cmd = [sys.executable, "-c", "from satsr.cli import main; main()"]
    local = tmp_path / "local"
    subprocess.run([*cmd, *_args(local_src, local, "--tile-chips", "1")], check=True,
                   capture_output=True, timeout=600)
    remote = tmp_path / "remote"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", host="127.0.0.1") as cluster, \
            distributed.Client(cluster) as client:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        res = subprocess.run([*cmd, *_args(local_src, remote, "--tile-chips", "1",
                                           "--scheduler", address)],
                             capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-3000:]
        # the tiles were scheduled on this cluster, not on an in-process one of the CLI
        keys = client.run_on_scheduler(
            lambda dask_scheduler: sorted({str(e[0]) for e in dask_scheduler.transition_log}))
        n_tiles = len(json.loads((remote / "provenance.json").read_text())["chips"])
        assert len([k for k in keys if k.startswith("satsr-tile-remote-")]) >= 1, keys
        assert n_tiles >= 1
    assert _tree(remote / "chips.zarr") == _tree(local / "chips.zarr")
    assert (remote / "provenance.json").read_bytes() == (local / "provenance.json").read_bytes()


def test_split_counts_and_smaller_split_blocks(tmp_path: Path, local_src: Path) -> None:
    """A small AOI falls in one 8x8-chip split block: the CLI says so and how to mix the splits;
    --split-block 1 spreads its chips over several splits."""
    default = CliRunner().invoke(app, _args(local_src, tmp_path / "a"))
    assert default.exit_code == 0, default.output
    text = " ".join(default.output.split())
    n = open_dataset(tmp_path / "a").sizes["scene"]
    assert f"wrote {n} chips (train {n}, val 0, test 0)" in text
    assert "note: no val or test chips" in text and "--split-block (e.g. 2)" in text
    small = CliRunner().invoke(app, _args(local_src, tmp_path / "b", "--split-block", "1",
                                          "--split-buffer", "0"))
    assert small.exit_code == 0, small.output
    splits = {str(s) for s in open_dataset(tmp_path / "b")["split"].values}
    assert len(splits) >= 2, splits
    bad = CliRunner().invoke(app, _args(local_src, tmp_path / "c", "--split-fractions", "0.8,0.2"))
    assert bad.exit_code != 0 and "three numbers" in str(bad.exception)
    assert not (tmp_path / "c").exists()


@pytest.mark.slow
def test_two_identical_fetches_into_one_folder(tmp_path: Path, local_src: Path) -> None:
    """Two identical fetch processes into one --out: the second, started while the first holds
    the folder (the first is paused with SIGSTOP right after taking the lock, so the runs
    overlap for certain), stops with one line; the first one's store equals a clean run's."""
    cmd = [sys.executable, "-c", "from satsr.cli import main; main()"]
    out = tmp_path / "shared"
    first = subprocess.Popen([*cmd, *_args(local_src, out)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    lock, deadline = out / ".satsr.lock", time.monotonic() + 300
    while time.monotonic() < deadline and first.poll() is None:
        if lock.exists() and lock.read_text().strip() == str(first.pid):
            break
        time.sleep(0.005)
    os.kill(first.pid, signal.SIGSTOP)
    try:
        assert first.poll() is None and not (out / "chips.zarr").exists()
        second = subprocess.run([*cmd, *_args(local_src, out)], capture_output=True, text=True,
                                timeout=600)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    assert second.returncode == 2, second.stderr
    lines = [ln for ln in second.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and f"is in use by another satsr run (pid {first.pid})" in lines[0]
    clean = tmp_path / "clean"
    subprocess.run([*cmd, *_args(local_src, clean)], check=True, capture_output=True, timeout=600)
    assert _tree(out / "chips.zarr") == _tree(clean / "chips.zarr")
    assert (out / "provenance.json").read_bytes() == (clean / "provenance.json").read_bytes()
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in clean.iterdir())


@pytest.mark.parametrize("planted", ["chips.zarr/notes.txt", "provenance.json"])
def test_fetch_never_touches_files_it_did_not_write(tmp_path: Path, local_src: Path,
                                                    planted: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mine"
    (out / planted).parent.mkdir(parents=True, exist_ok=True)
    (out / planted).write_text("my own notes\n")
    with pytest.raises(SystemExit) as info:
        main(_args(local_src, out))
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "not written by satsr fetch" in lines[0] or "that satsr did not write" in lines[0]
    assert _tree(out) == {planted: b"my own notes\n"}


def test_fetch_name_with_path_parts_stays_inside(tmp_path: Path, local_src: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """``--name ../../X`` names the dataset; no path is made from it (nor by a bench of it)."""
    from satsr.bench import BenchConfig, run_bench

    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    res = CliRunner().invoke(app, _args(local_src, Path("chips"), "--name", "../../X"))
    assert res.exit_code == 0, res.output
    assert open_dataset(work / "chips").attrs["dataset"] == "chips:../../X"
    result = run_bench(BenchConfig(models="bicubic", dataset="chips", progress=False,
                                   strips=False))
    assert result.out.resolve().parent == (work / "satsr-results").resolve()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b"]
