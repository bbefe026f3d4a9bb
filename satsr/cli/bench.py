"""``satsr bench``: score models on a dataset and print the table per dataset × band × split."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add the ``bench`` command to ``app``."""

    @app.command("bench")
    def bench_cmd(
        models: str = typer.Option(
            None, "--models", "-m",
            help="Comma-separated model names, wildcards (edsr*), NAME:WEIGHTS, or 'all' "
                 "(baselines + every model with trained weights for the dataset; the default, "
                 "or bicubic alone with --predictions)."),
        dataset: str = typer.Option(
            "sample", "--dataset", "-d",
            help="sample | sample-chips | probav | PATH (Zarr store or PROBA-V folder)."),
        split: str = typer.Option(
            None, help="train | val | test (default: test for the sample, else all scenes "
                       "with a target)."),
        band: str = typer.Option(None, help="Band / track, e.g. RED or NIR (default: all)."),
        out: Path = typer.Option(None, help="Results folder (default satsr-results/<dataset>)."),
        root: Path = typer.Option(None, help="Data root for named datasets (e.g. PROBA-V)."),
        batch_size: int = typer.Option(4, min=1, help="Scenes per forward pass."),
        device: str = typer.Option("cpu", help="cpu | cuda | cuda:N."),
        resume: bool = typer.Option(True, help="Reuse records in --out whose model, weights, "
                                    "data and metric settings are unchanged."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Start --out afresh, "
                                       "replacing result files satsr did not write there."),
        strips: bool = typer.Option(True, help="Write visual comparison strips."),
        progress: bool = typer.Option(True, help="Show a progress bar."),
        allow_mismatch: bool = typer.Option(
            False, "--allow-mismatch", help="Use weights trained on another band, sensor, "
            "scale or value scale than the dataset (warns instead of refusing)."),
        trust_unverified: bool = typer.Option(
            False, "--trust-unverified", help="Load weights whose sidecar has no sha256."),
        predictions: Path = typer.Option(None, "--predictions", help="Score stored "
                                         "predictions (a `satsr predict` store or a PROBA-V "
                                         "submission zip/folder) instead of running models."),
    ) -> None:
        """Benchmark models: PSNR, SSIM, cPSNR and PROBA-V score per scene and per model."""
        from rich.console import Console

        from satsr.bench import BenchConfig, run_bench
        from satsr.bench.table import render_tables

        result = run_bench(BenchConfig(
            models=models or ("bicubic" if predictions else "all"), dataset=dataset,
            split=split, band=band, out=out, root=root,
            batch_size=batch_size, device=device, resume=resume, strips=strips,
            progress=progress, overwrite=overwrite, allow_mismatch=allow_mismatch,
            trust_unverified=trust_unverified, predictions=predictions))
        console = Console(width=None if Console().is_terminal else 200)  # logs: never cut a column
        for table in render_tables(result.summary):
            console.print(table)
        if result.skipped:
            names = sorted({key.split("@")[0] for key in result.skipped})
            console.print(f"[dim]skipped {len(names)} learned model(s) without trained weights "
                          f"for this dataset: {', '.join(names)} (train one with `satsr train`, "
                          "then pass NAME:WEIGHTS)[/]")
        if result.dropped:
            gone = ", ".join(f"{m} ({n})" for m, n in result.dropped.items())
            console.print(f"note: removed rows computed on other data or metric settings for "
                          f"models not in this run: {gone}; re-run them to restore their rows")
        console.print(f"results: {result.out}/ (records.csv, records.parquet, summary.json, "
                      "tables/, plots/)")
