"""`satsr bench` from the command line: the table, and one clear line for bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
