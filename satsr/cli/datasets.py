"""``satsr datasets``: list, download, prepare and summarise datasets."""

from __future__ import annotations

from pathlib import Path

import typer


def _summary_rows(name_or_path: str, root: Path | None) -> list[tuple[str, str]]:
    """Key/value lines describing a dataset (one block per band group)."""
    import numpy as np

    from satsr.datasets import load_datasets

    rows: list[tuple[str, str]] = []
    for ds in load_datasets(name_or_path, root=root):
        splits = np.asarray(ds["split"].values).astype(str)
        counts = {s: int((splits == s).sum()) for s in ("train", "val", "test")}
        valid = np.asarray(ds["frame_valid"].values, dtype=bool).sum(1)
        bands = ", ".join(str(b) for b in ds["band"].values)
        rows += [
            ("dataset", f"{ds.attrs['dataset']} [{bands}]"),
            ("scenes", f"{ds.sizes['scene']} (train {counts['train']}, val {counts['val']}, "
                       f"test {counts['test']})"),
            ("frames", f"{int(valid.min()) if valid.size else 0}..{int(valid.max(initial=0))} "
                       "per scene "
                       f"(padded to {ds.sizes['frame']})"),
            ("lr / hr", f"{ds.sizes['y']}x{ds.sizes['x']} / {ds.sizes['Y']}x{ds.sizes['X']} px, "
                        f"scale x{ds.attrs['scale']}"),
            ("value scale", f"{ds.attrs['value_scale']} (data range {ds.attrs['data_range']})"),
            ("sensors", f"{ds.attrs.get('lr_sensor', '')} -> {ds.attrs.get('hr_sensor', '')}"),
            ("synthetic", str(bool(ds.attrs["synthetic"]))),
            ("", ""),
        ]
    return rows[:-1]


def register(app: typer.Typer) -> None:
    """Add the ``datasets`` sub-app (list, download, prepare, make, verify, info) to ``app``."""
    sub = typer.Typer(help="List, download, prepare, make, verify and inspect datasets.",
                      no_args_is_help=True)
    app.add_typer(sub, name="datasets")

    @sub.command("list")
    def list_cmd() -> None:
        """Known dataset names, what they are, and whether they are present locally."""
        from rich.console import Console
        from rich.table import Table

        from satsr.datasets import DATASETS, data_home

        table = Table(title=f"satsr datasets (data home: {data_home()})")
        for col in ("name", "present", "synthetic", "description"):
            table.add_column(col)
        for name, entry in DATASETS.items():
            table.add_row(name, "yes" if entry.is_present() else "no",
                          "yes" if entry.synthetic else "no", entry.description)
        Console().print(table)

    @sub.command("download")
    def download_cmd(
        name: str = typer.Argument(..., help="Dataset name (`satsr datasets list`)."),
        root: Path = typer.Option(None, "--root", help="Target folder [data home/probav]."),
        url: str = typer.Option(None, "--url", help="Download from this URL instead."),
        md5: str = typer.Option(None, "--md5", help="Expected md5 of the archive."),
        sha256: str = typer.Option(None, "--sha256", help="Expected sha256 of the archive."),
        size: int = typer.Option(None, "--size", help="Expected size of the archive in bytes."),
        keep_archive: bool = typer.Option(True, help="Keep the zip after extracting it."),
    ) -> None:
        """Download a dataset archive (resumable) and extract it.

        Always checked: the zip CRCs and the dataset's layout; the archive checksum only when
        --md5/--sha256 is given or the manifest has one (probav's has none confirmed)."""
        from satsr.datasets import dataset_entry
        from satsr.datasets.download import check_download_options, describe_checks, load_manifest

        entry = dataset_entry(name)
        entry.check_downloadable()
        check_download_options(root, size=size, md5=md5, sha256=sha256)
        out = entry.fetch(root, url=url, size=size, md5=md5, sha256=sha256,
                          keep_archive=keep_archive)
        checks = describe_checks(load_manifest(entry.name), url=url, size=size, md5=md5,
                                 sha256=sha256)
        typer.echo(f"checked: {checks}", err=True)
        typer.echo(f"{entry.name} is in {out}; next: satsr datasets prepare {entry.name} "
                   f"--root {out}")

    @sub.command("prepare")
    def prepare_cmd(
        name: str = typer.Argument(..., help="Dataset name (`satsr datasets list`)."),
        root: Path = typer.Option(None, "--root", help="Dataset folder [data home/<name>]."),
        out: Path = typer.Option(None, "--out", help="Where to write the Zarr stores "
                                 "[<root>/satsr]."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing stores."),
    ) -> None:
        """Convert a dataset into sample-schema Zarr stores (fast, lazy loading)."""
        from satsr._checks import check_output_dir
        from satsr.datasets import dataset_entry

        check_output_dir("--out", out)
        for path in dataset_entry(name).make_stores(root, out, overwrite=overwrite):
            typer.echo(f"ready: {path}")

    @sub.command("make")
    def make_cmd(
        images: list[Path] = typer.Option(..., "--from", help="GeoTIFF(s) with the HR imagery "
                                          "(repeat --from for several)."),
        scale: str = typer.Option("3", "--scale", help="Integer LR/HR pixel-size ratio."),
        sensor: str = typer.Option(..., "--sensor", help="sentinel2 | landsat8 | landsat9 "
                                   "(sets the MTF at Nyquist, band names, noise, DN scale)."),
        out: Path = typer.Option(..., "--out", help="The Zarr store to write."),
        chip: int = typer.Option(32, "--chip", help="LR px per chip side (HR: chip x scale)."),
        frames: int = typer.Option(1, "--frames", help="LR frames per chip (>1: multi-frame, "
                                   "sub-pixel shifted)."),
        max_shift: float = typer.Option(0.5, "--max-shift", help="Largest frame shift, LR px."),
        noise: float = typer.Option(None, "--noise", help="LR noise sigma in reflectance "
                                    "[sensor's nominal value]."),
        mtf: float = typer.Option(None, "--mtf", help="MTF at Nyquist [sensor's published "
                                  "value]."),
        bands: str = typer.Option(None, "--bands", help="Names of the first raster bands, "
                                  "comma-separated [sensor's bands]."),
        min_valid: float = typer.Option(0.95, "--min-valid", help="Valid HR fraction a chip "
                                        "needs."),
        seed: int = typer.Option(0, "--seed", help="Seed of the shifts, noise and splits."),
        name: str = typer.Option("", "--name", help="Dataset name [wald-<sensor>]."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing store."),
    ) -> None:
        """Make a Wald-protocol dataset: degrade real HR imagery with the sensor's MTF to LR."""
        from satsr.datasets.wald import WaldConfig, make_wald, parse_scale

        names = tuple(b.strip() for b in bands.split(",") if b.strip()) if bands else None
        cfg = WaldConfig(sensor=sensor, scale=parse_scale(scale), chip=chip, frames=frames,
                         max_shift=max_shift, noise=noise, mtf=mtf, bands=names,
                         min_valid=min_valid, seed=seed, name=name)
        path = make_wald(images, out, cfg, overwrite=overwrite)
        typer.echo(f"ready: {path} (next: satsr bench --dataset {path})")

    @sub.command("verify")
    def verify_cmd(
        path: Path = typer.Argument(..., help="A Zarr store, or a folder of stores."),
    ) -> None:
        """Check every chunk of a store: present, crc32c intact, content hash unchanged.

        Prints one line per problem and exits 1 if there is any.
        """
        from satsr.integrity import find_stores, verify_store

        bad = 0
        for store in find_stores(path):
            problems = verify_store(store)
            for line in problems:
                typer.echo(line)
            bad += len(problems)
            if not problems:
                typer.echo(f"ok: {store} (every chunk present, crc32c and content hash match)")
        if bad:
            raise SystemExit(1)

    @sub.command("info")
    def info_cmd(
        name_or_path: str = typer.Argument(..., help="Dataset name or path (store, folder)."),
        root: Path = typer.Option(None, "--root", help="Dataset folder for named datasets."),
    ) -> None:
        """Summarise a dataset: scenes per split, bands, frames, scale, value scale."""
        for key, value in _summary_rows(name_or_path, root):
            typer.echo(f"{key:<12} {value}" if key else "")
