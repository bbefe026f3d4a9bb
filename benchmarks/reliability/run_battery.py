"""Run the reliability battery (``tests/reliability/cases.py``) and print its figures.

    PYTHONPATH=. python benchmarks/reliability/run_battery.py [--verbose] [--json OUT]

Prints tried / clean / tracebacks / silent / partial / unclear. The table and the runner are
loaded from this checkout; ``satsr`` is whichever one the interpreter imports, so pointing
PYTHONPATH at another checkout measures that one ("before" figures) with the same cases.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path) -> object:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="One line per non-clean case.")
    parser.add_argument("--json", type=Path, help="Also write per-case verdicts here.")
    args = parser.parse_args()
    # the battery modules import each other as tests.reliability.*: load them from this checkout
    for pkg in ("tests", "tests.reliability"):
        mod = type(sys)(pkg)
        mod.__path__ = [str(HERE / pkg.replace(".", "/"))]  # type: ignore[attr-defined]
        sys.modules[pkg] = mod
    cases = _load("tests.reliability.cases", HERE / "tests/reliability/cases.py")
    runner = _load("tests.reliability.runner", HERE / "tests/reliability/runner.py")
    workspace = _load("tests.reliability.workspace", HERE / "tests/reliability/workspace.py")
    import satsr

    with tempfile.TemporaryDirectory(prefix="satsr-battery-") as tmp:
        import os

        os.environ["SATSR_DATA"] = str(Path(tmp) / "data-home")
        paths = workspace.build_workspace(Path(tmp) / "ws")  # type: ignore[attr-defined]
        verdicts: dict[str, str] = {}
        for case in cases.CASES:  # type: ignore[attr-defined]
            outcome = runner.run_case(case, paths, Path(tmp) / "w")  # type: ignore[attr-defined]
            verdicts[case.id] = outcome.verdict
            if args.verbose and outcome.verdict != "clean":
                detail = outcome.escaped or "; ".join(outcome.problems) or \
                    (outcome.stderr[-1] if outcome.stderr else "")
                print(f"{outcome.verdict:9} {case.id}: {detail[:160]}")
    counts = Counter(verdicts.values())
    print(f"satsr at {Path(satsr.__file__).parent}")
    print(f"tried {len(verdicts)}, clean {counts['clean']}, tracebacks {counts['traceback']}, "
          f"silent {counts['silent']}, partial {counts['partial']}, unclear {counts['unclear']}")
    if args.json:
        args.json.write_text(json.dumps(verdicts, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
