"""`satsr report` from the command line: files written, paths printed, one line for bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from satsr.cli import main
from tests.bench.results_fixture import make_results


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_results(tmp_path_factory.mktemp("r") / "run", run_id="cli", seed=4)


def _run(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_report_writes_tables_and_plots(results: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    assert _run(["report", str(results), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.split()
    expected = {out / "report.md", out / "tables" / "fixture_RED_test.csv",
                out / "tables" / "fixture_NIR_test.md",
                out / "plots" / "scatter_fixture_RED_test.png"}
    assert expected <= {Path(p) for p in printed}
    assert all(p.stat().st_size > 0 for p in expected)


def test_report_defaults_to_the_results_folder(results: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(results, copy)
    shutil.rmtree(copy / "tables", ignore_errors=True)
    assert _run(["report", str(copy)]) == 0
    assert (copy / "tables" / "fixture_RED_test.csv").exists()
    assert (copy / "report.md").exists()


@pytest.mark.parametrize(
    ("setup", "needle"),
    [
        ("missing", "is not a folder"),
        ("empty", "summary.json: not found"),
        ("version", "'schema_version' is 7"),
    ],
)
def test_bad_input_is_one_line(results: Path, tmp_path: Path, setup: str, needle: str,
                               capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "target"
    if setup == "empty":
        target.mkdir()
    elif setup == "version":
        shutil.copytree(results, target)
        summary = json.loads((target / "summary.json").read_text())
        summary["schema_version"] = 7
        (target / "summary.json").write_text(json.dumps(summary))
    assert _run(["report", str(target), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "Traceback" not in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_report_compare_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`satsr report --compare A B` on the committed sample results: a paired table."""
    results = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "sample-cpu"
    main(["report", str(results), "--out", str(tmp_path), "--compare", "edsr", "bicubic"])
    out = capsys.readouterr().out
    assert "Paired per-scene cpsnr of **edsr** (A) against **bicubic** (B)" in out
    assert (tmp_path / "compare" / "edsr_vs_bicubic_cpsnr.csv").exists()
    with pytest.raises(SystemExit) as exc:
        main(["report", str(results), "--out", str(tmp_path), "--compare", "edsr", "nope"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "'nope' has no records" in err and "Traceback" not in err


def test_hostile_names_in_a_results_file_stay_inside(results: Path, tmp_path: Path) -> None:
    """A band or dataset named with '..' and '/' in summary.json never makes a path outside
    the report folder (the issue's `../../..` band)."""
    copy = tmp_path / "deep" / "er" / "copy"
    shutil.copytree(results, copy)
    for name in ("tables", "plots", "report.md"):
        target = copy / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    summary = json.loads((copy / "summary.json").read_text())
    summary["tables"][0]["band"] = "../../.."
    summary["tables"][1]["dataset"] = "/tmp/../../x"
    (copy / "summary.json").write_text(json.dumps(summary))
    assert _run(["report", str(copy)]) == 0
    assert sorted(p.name for p in (tmp_path / "deep" / "er").iterdir()) == ["copy"]
    made = [p for p in copy.rglob("*") if p.is_file()]
    assert all(p.resolve().is_relative_to(copy.resolve()) for p in made)
    assert len(list((copy / "tables").glob("*.csv"))) == 2


def test_foreign_report_is_refused_unless_overwrite(results: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "site"
    out.mkdir()
    (out / "report.md").write_text("# my own report\n")
    assert _run(["report", str(results), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "that satsr did not write" in err and "--overwrite" in err
    assert (out / "report.md").read_text() == "# my own report\n"
    assert _run(["report", str(results), "--out", str(out), "--overwrite"]) == 0
    assert _run(["report", str(results), "--out", str(out)]) == 0  # now it is satsr's report
    assert "Benchmark report" in (out / "report.md").read_text()
