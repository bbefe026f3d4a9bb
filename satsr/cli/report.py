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
        compare: tuple[str, str] | None = typer.Option(
            None, "--compare", metavar="A B",
            help="Compare model A against model B scene by scene (paired difference with a 95 % "
            "bootstrap interval, share of scenes A wins) instead of writing the report."),
        metric: str = typer.Option(
            "cpsnr", "--metric", help="Metric for --compare: cpsnr, psnr, ssim or score."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace report files in "
                                       "--out that satsr did not write."),
    ) -> None:
        """Write per dataset × band × split tables (Markdown, CSV), scatter plots and report.md."""
        from satsr.bench.report import write_report
        from satsr.errors import ConfigError

        if not results_dir.is_dir():
            raise ConfigError(f"{results_dir} is not a folder; pass a results folder written by "
                              "`satsr bench` (it holds summary.json)")
        target = out if out is not None else results_dir
        if compare is not None:
            from satsr.bench.compare import comparison_markdown, write_comparison
            from satsr.bench.results import load_records, load_summary

            load_summary(results_dir)  # a results folder written by satsr bench, validated
            comparisons, written = write_comparison(load_records(results_dir), compare[0],
                                                    compare[1], target, metric)
            typer.echo(comparison_markdown(comparisons))
        else:
            written = write_report(results_dir, out, overwrite=overwrite)
        for path in written:
            typer.echo(str(path))
