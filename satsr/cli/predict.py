"""``satsr predict``: apply a model to a GeoTIFF (or time stack), a sample-schema store, or
PROBA-V test scenes (submission archive)."""

from __future__ import annotations

from pathlib import Path

import typer

FORMATS = ("auto", "geotiff", "cog", "store", "probav-submission")


def _is_raster_input(paths: list[Path]) -> bool:
    from satsr.predict.raster import TIFF_SUFFIXES

    for p in paths:
        if p.is_file() and p.suffix.lower() in TIFF_SUFFIXES:
            return True
        if p.is_dir() and any(c.suffix.lower() in TIFF_SUFFIXES for c in p.iterdir()):
            return True
    return False


def register(app: typer.Typer) -> None:
    """Add the ``predict`` command to ``app``."""

    @app.command("predict")
    def predict_cmd(
        model: str = typer.Option(..., "--model", "-m", help="NAME[:WEIGHTS]: a baseline, or a "
                                  "learned model with a .safetensors path, URL or shipped tag "
                                  "(e.g. edsr-baseline:sample)."),
        inputs: list[Path] = typer.Option(..., "--input", "-i", help="GeoTIFF, folder of "
                                          "GeoTIFFs (a time stack, one file per frame; repeat "
                                          "--input to list files), sample-schema Zarr store, "
                                          "or a dataset name/folder (sample, probav, ...)."),
        out: Path = typer.Option(..., "--out", "-o", help="Output .tif, .zarr store, or .zip "
                                 "(--format probav-submission)."),
        fmt: str = typer.Option("auto", "--format", help=f"{' | '.join(FORMATS)} (auto: "
                                "GeoTIFF for raster input, store otherwise)."),
        tile: int = typer.Option(256, "--tile", help="Tile core size (LR px)."),
        halo: int = typer.Option(None, "--halo", help="Halo around each tile (LR px; default: "
                                 "the model's receptive field)."),
        batch_size: int = typer.Option(4, "--batch-size", help="Tiles (or scenes) per forward."),
        device: str = typer.Option("cpu", "--device", help="cpu | cuda | cuda:N."),
        threads: int = typer.Option(None, "--threads", help="Torch threads per forward "
                                    "(default: this process's; part of the result identity)."),
        scheduler: str = typer.Option(None, "--scheduler", help="dask scheduler address "
                                      "(tcp://host:8786) to run the tiles on a cluster."),
        resume: bool = typer.Option(True, "--resume/--no-resume", help="Continue an "
                                    "interrupted run (default) or start over."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out."),
        bands: str = typer.Option(None, "--bands", help="Comma list naming the input's data "
                                  "bands (default: the file's band descriptions)."),
        mask: Path = typer.Option(None, "--mask", help="Clear mask raster on the input grid "
                                  "(nonzero = clear)."),
        mask_band: int = typer.Option(None, "--mask-band", help="1-based input band holding a "
                                      "clear mask (nonzero = clear)."),
        value_scale: str = typer.Option(None, "--value-scale", help="Value scale of the input "
                                        "(e.g. reflectance, uint16/65535), checked against the "
                                        "weights."),
        sensor: str = typer.Option(None, "--sensor", help="Sensor of the input, checked "
                                   "against the weights."),
        scale: int = typer.Option(None, "--scale", help="Expected upscaling factor (checked "
                                  "against the model)."),
        allow_mismatch: bool = typer.Option(False, "--allow-mismatch", help="Use weights "
                                            "trained on other bands/sensor/value scale anyway."),
        allow_seams: bool = typer.Option(False, "--allow-seams", help="Tile a model with a "
                                         "global receptive field anyway."),
        split: str = typer.Option(None, "--split", help="Split of a store/dataset (default: "
                                  "all; probav-submission: test)."),
        band: str = typer.Option(None, "--band", help="Band/track of a dataset (RED, NIR)."),
        root: Path = typer.Option(None, "--root", help="Data root for named datasets."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar."),
    ) -> None:
        """Super-resolve imagery with a model: GeoTIFF/COG out (tiled, seamless, resumable),
        an `sr` variable in a sample-schema store, or a PROBA-V submission archive."""
        from rich.console import Console

        from satsr.errors import ConfigError

        console = Console()
        if fmt not in FORMATS:
            raise ConfigError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
        raster = _is_raster_input(inputs)
        if fmt in ("geotiff", "cog") or (fmt == "auto" and raster):
            from satsr.predict import RasterOptions, predict_raster

            res = predict_raster(model, inputs if len(inputs) > 1 else inputs[0], out,
                                 RasterOptions(
                tile=tile, halo=halo, batch_size=batch_size, device=device, threads=threads,
                scheduler=scheduler, resume=resume, overwrite=overwrite, progress=progress,
                bands=[b.strip() for b in bands.split(",")] if bands else None, mask=mask,
                mask_band=mask_band, value_scale=value_scale, sensor=sensor, scale=scale,
                allow_mismatch=allow_mismatch, allow_seams=allow_seams, cog=fmt == "cog"))
            console.print(f"wrote {res.out} ({res.n_tiles} tiles, {res.tiles_reused} reused, "
                          f"halo {res.halo} LR px, frames {list(res.frames)})")
            return
        if len(inputs) != 1:
            raise ConfigError("--input: pass one store or dataset (several --input are for "
                              "GeoTIFF time stacks)")
        if fmt == "probav-submission":
            from satsr.predict.submission import write_submission

            sub = write_submission(model, str(inputs[0]), out, split=split or "test",
                                   root=root, batch_size=batch_size, device=device,
                                   overwrite=overwrite, progress=progress,
                                   allow_mismatch=allow_mismatch)
            console.print(f"wrote {sub.out}: {sub.n_scenes} scenes ({', '.join(sub.bands)}), "
                          "complete")
            return
        from satsr.predict.store import predict_store

        store = predict_store(model, str(inputs[0]), out, split=split, band=band, root=root,
                              batch_size=batch_size, device=device, overwrite=overwrite,
                              progress=progress, allow_mismatch=allow_mismatch)
        console.print(f"wrote {store.out}: sr for {store.n_scenes} scenes (score it with "
                      f"`satsr bench --dataset {inputs[0]} --predictions {store.out}`)")
