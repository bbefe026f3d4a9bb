"""``satsr report``: tables (Markdown, CSV) and plots for a benchmark results folder."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add the ``report`` command to ``app``."""

    @app.command("report")
    def report_cmd(
        results_dir: Path = typer.Argument(
            ..., help="A results folder written by `satsr bench` (holds summary.json)."),
        out: Path = typer.Option(
            None, "--out", "-o", help="Where to write tables/, plots/ and report.md "
            "(default: the results folder itself)."),
    ) -> None:
        """Write per dataset × band × split tables (Markdown, CSV), scatter plots and report.md."""
        from satsr.bench.report import write_report
        from satsr.errors import ConfigError

        if not results_dir.is_dir():
            raise ConfigError(f"{results_dir} is not a folder; pass a results folder written by "
                              "`satsr bench` (it holds summary.json)")
        written = write_report(results_dir, out)
        for path in written:
            typer.echo(str(path))
