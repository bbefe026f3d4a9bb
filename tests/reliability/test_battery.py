"""The reliability battery: every bad input of ``cases.CASES`` is refused cleanly.

Clean means: exit status != 0 (the expected one), exactly one line on stderr naming the problem,
no traceback, and nothing at the output path the command would have written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.cases import CASES, Case
from tests.reliability.runner import run_case, run_case_subprocess

#: a few cases re-run in a real child process: stderr there holds everything Python printed
SUBPROCESS = ("usage-unknown-option", "usage-batch-size-abc", "fetch-aoi-nested",
              "bench-records-truncated-parquet", "train-lr-nan", "models-pattern-no-match")


def _explain(outcome: object) -> str:
    o = outcome
    return (f"{o.case.id}: {o.verdict} (exit {o.code}; {o.problems}; escaped {o.escaped!r}; "  # type: ignore[attr-defined]
            f"final exists {o.final_exists}; stderr {o.stderr})")  # type: ignore[attr-defined]


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.xfail(reason=c.known,
                                                                          strict=True))
                                  if c.known else c for c in CASES], ids=[c.id for c in CASES])
def test_bad_input_is_refused_cleanly(case: Case, workspace: dict[str, str],
                                      case_dir: Path) -> None:
    outcome = run_case(case, workspace, case_dir)
    assert outcome.verdict == "clean", _explain(outcome)


@pytest.mark.parametrize("case_id", SUBPROCESS)
def test_bad_input_in_a_real_process(case_id: str, workspace: dict[str, str],
                                     case_dir: Path) -> None:
    case = next(c for c in CASES if c.id == case_id)
    outcome = run_case_subprocess(case, workspace, case_dir)
    assert outcome.verdict == "clean", _explain(outcome)
