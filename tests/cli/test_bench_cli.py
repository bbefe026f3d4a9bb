"""`satsr bench` from the command line: the table, and one clear line for bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def satsr(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.run([sys.executable, "-m", "satsr", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd, env=env)


def test_bench_prints_tables(probav_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    proc = satsr("bench", "--models", "bicubic,mean-bicubic", "--dataset", str(probav_root),
                 "--out", str(out), "--no-strips", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "probav · RED · train" in proc.stdout and "mean-bicubic" in proc.stdout
    assert "1.000000" in proc.stdout  # the organisers' baseline scores exactly 1
    assert (out / "summary.json").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--dataset", "/nonexistent/probav"], "neither a known name"),
        (["--models", "edsrr"], "unknown model 'edsrr'"),
        (["--split", "dev"], "unknown split 'dev'"),
        (["--band", "SWIR"], "SWIR"),
    ],
)
def test_bad_input_is_one_line(probav_root: Path, tmp_path: Path, args: list[str],
                               needle: str) -> None:
    out = tmp_path / "r"
    base = {"--dataset": str(probav_root), "--models": "bicubic"}
    for key, value in zip(args[::2], args[1::2], strict=True):
        base[key] = value
    flat = [x for kv in base.items() for x in kv]
    proc = satsr("bench", *flat, "--out", str(out), "--no-progress")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], proc.stderr
    assert not out.exists()


def test_version_and_help() -> None:
    assert satsr("--version").stdout.startswith("satsr ")
    proc = satsr("--help")
    for cmd in ("bench", "models", "datasets"):
        assert cmd in proc.stdout


def _records(out: Path) -> Any:
    from satsr.bench import results as res

    return res.load_records(out)


def test_a_second_bench_on_a_locked_folder_is_refused(probav_root: Path, tmp_path: Path) -> None:
    """A real concurrent holder: while another process holds --out, bench stops with one line."""
    from tests.test_lock import _holder

    out = tmp_path / "r"
    holder = _holder(out, 120)
    try:
        proc = satsr("bench", "--models", "bicubic", "--dataset", str(probav_root), "--out",
                     str(out), "--no-strips", "--no-progress")
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and f"is in use by another satsr run (pid {holder.pid})" in lines[0]
    assert not (out / "records.csv").exists()


def test_two_concurrent_benches_never_lose_rows(probav_root: Path, tmp_path: Path) -> None:
    """Two bench processes with different models into one --out, started together: each either
    refuses with one line or its rows are all in the final records."""
    out = tmp_path / "r"
    env = {**os.environ, "COLUMNS": "160"}
    procs = {m: subprocess.Popen([sys.executable, "-m", "satsr", "bench", "--models", m,
                                  "--dataset", str(probav_root), "--out", str(out),
                                  "--no-strips", "--no-progress"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=env)
             for m in ("bicubic", "mean-bicubic")}
    outcome = {m: (p.wait(timeout=300), p.communicate()[1]) for m, p in procs.items()}
    records = _records(out)
    finished = {m for m, (rc, _) in outcome.items() if rc == 0}
    assert finished, outcome
    for model, (rc, err) in outcome.items():
        if rc == 0:
            assert len(records[records["model"] == model]) == 2, (model, outcome)
        else:
            assert rc == 2 and "is in use by another satsr run" in err, err
    assert set(records["model"]) == finished
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_tables_say_real_or_synthetic_and_how_to_read_them(probav_root: Path,
                                                           tmp_path: Path) -> None:
    proc = satsr("bench", "--models", "bicubic,mean-bicubic", "--dataset", str(probav_root),
                 "--out", str(tmp_path / "r"), "--no-strips", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    assert "probav · RED · train — REAL, 1 scene" in text and "1 scenes" not in text
    assert "lower is better" in text and "Δ = model − bicubic" in text
