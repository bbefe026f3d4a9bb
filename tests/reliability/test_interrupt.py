"""Ctrl-C in a real ``satsr train`` process: exit status 130, one line, no traceback.

(The battery covers every command in-process by raising KeyboardInterrupt inside the library
call.) The child gets SIGINT's default disposition back explicitly: a shell that started the test
runner in the background ignores SIGINT, and children inherit that.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def test_ctrl_c_in_training_exits_130_with_one_line(workspace: dict[str, str],
                                                   case_dir: Path) -> None:
    case_dir.mkdir(parents=True)
    err_path = case_dir / "stderr.txt"
    argv = ["train", "--model", "srcnn", "--dataset", workspace["store"], "--patch", "4",
            "--steps", "1000000", "--val-every", "1", "--out", str(case_dir / "run"),
            "--no-progress"]
    with err_path.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "satsr", *argv], stdout=subprocess.DEVNULL,
                                stderr=err, env={**os.environ, "COLUMNS": "100"},
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 120
        while (not err_path.stat().st_size and proc.poll() is None
               and time.monotonic() < deadline):
            time.sleep(0.05)  # training logs each validation: it is in the loop now
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    lines = [line for line in err_path.read_text().splitlines() if line.strip()]
    assert code == 130, lines[-5:]
    assert not any("Traceback" in line for line in lines)
    assert lines[-1].startswith("interrupted"), lines[-5:]
