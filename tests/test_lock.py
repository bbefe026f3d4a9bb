"""satsr._lock: one writer per output folder, across real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from satsr._lock import LOCK_NAME, FolderInUseError, output_lock
from satsr.errors import ConfigError

HOLD = """
import sys, time
from satsr._lock import output_lock
with output_lock(sys.argv[1]) as folder:
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
    (folder / "holder-done").write_text("1")
"""


def _holder(folder: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder), str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    proc.stdout.close()
    return proc


def test_second_process_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _holder(out, 30)
    try:
        busy = rf"in use by another satsr run \(pid {proc.pid}\)"
        with pytest.raises(FolderInUseError, match=busy), output_lock(out):
            pass
    finally:
        proc.kill()
        proc.wait()
    # the kernel dropped the lock with the killed process: the folder is usable again
    with output_lock(out):
        assert (out / LOCK_NAME).exists()
    assert not (out / LOCK_NAME).exists()


def test_wait_blocks_until_the_holder_finishes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _holder(out, 1.0)
    with output_lock(out, wait=True):
        assert (out / "holder-done").exists(), "the lock was granted while the holder ran"
        assert (out / LOCK_NAME).read_text().strip() == str(os.getpid())
    proc.wait()


def test_a_failed_run_leaves_no_folder_it_created(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "out"
    with pytest.raises(RuntimeError), output_lock(out):
        raise RuntimeError("boom")
    assert not (tmp_path / "a").exists()
    kept = tmp_path / "kept"
    with output_lock(kept):
        (kept / "result.txt").write_text("x")
    assert sorted(p.name for p in kept.iterdir()) == ["result.txt"]


def test_existing_folder_is_kept_and_a_file_is_refused(tmp_path: Path) -> None:
    with output_lock(tmp_path):
        pass
    assert tmp_path.is_dir()
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(ConfigError, match="exists and is not a folder"), output_lock(afile):
        pass
    with pytest.raises(ConfigError, match="cannot create the output folder"), \
            output_lock(afile / "sub"):
        pass
