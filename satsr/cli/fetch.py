"""``satsr fetch``: build a Landsat (LR) / Sentinel-2 (HR) chip dataset over an AOI."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import typer


def _fractions(text: str) -> tuple[float, float, float]:
    from satsr.errors import ConfigError

    try:
        parts = tuple(float(x) for x in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3:
        raise ConfigError(f"--split-fractions {text!r} must be three numbers: train,val,test "
                          "(e.g. 0.8,0.1,0.1)")
    return parts  # type: ignore[return-value]


def _n(count: int, noun: str) -> str:
    """``1 chip``, ``2 chips``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _date(text: str, flag: str) -> date:
    from satsr.errors import ConfigError

    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise ConfigError(f"{flag} {text!r} is not a date; use YYYY-MM-DD") from None


def register(app: typer.Typer) -> None:
    """Add the ``fetch`` command to ``app``."""

    @app.command("fetch")
    def fetch_cmd(
        aoi: Path = typer.Option(None, "--aoi", help="AOI GeoJSON (Feature[Collection], Polygon, "
                                 "MultiPolygon) in WGS84."),
        bbox: str = typer.Option(None, "--bbox", help="minlon,minlat,maxlon,maxlat instead of --aoi."),
        start: str = typer.Option(..., "--start", help="First day (YYYY-MM-DD, UTC) of Sentinel-2 "
                                  "acquisitions."),
        end: str = typer.Option(..., "--end", help="Last day (YYYY-MM-DD, UTC), inclusive."),
        source: str = typer.Option("ee", "--source", help="ee | stac | local."),
        local_dir: Path = typer.Option(None, "--local-dir", help="Folder with manifest.json "
                                       "(--source local)."),
        stac_url: str = typer.Option(None, "--stac-url", help="STAC API root (--source stac; "
                                     "default Earth Search v1)."),
        project: str = typer.Option(None, "--project", help="Google Cloud project (--source ee)."),
        ee_credentials: Path = typer.Option(None, "--ee-credentials", help="Service-account key "
                                            "(JSON) for --source ee (default: $SATSR_EE_CREDENTIALS, "
                                            "else your `earthengine authenticate` or ADC login)."),
        ee_url: str = typer.Option(None, "--ee-url", help="Earth Engine REST endpoint (default: "
                                   "$SATSR_EE_API_URL, else Google's); for private endpoints "
                                   "and emulators."),
        bands: str = typer.Option("blue,green,red,nir", "--bands", help="Comma list of common bands."),
        max_cloud: float = typer.Option(100.0, "--max-cloud", help="Max scene cloud cover (%)."),
        pair_days: float = typer.Option(5.0, "--pair-days", help="Max |Δt| between Landsat and "
                                        "Sentinel-2 (days)."),
        frames: int = typer.Option(1, "--frames", help="Landsat frames per chip (best clear first)."),
        chip: int = typer.Option(64, "--chip", help="LR chip size (30 m px); HR is 3x."),
        overlap: int = typer.Option(0, "--overlap", help="Chip overlap (LR px)."),
        harmonize: bool = typer.Option(False, "--harmonize/--no-harmonize",
                                       help="HLS bandpass-adjust Sentinel-2 to Landsat (NIR=B8A)."),
        min_valid: float = typer.Option(0.5, "--min-valid", help="Min clear fraction per chip."),
        coregister: str = typer.Option("apply", "--coregister", help="apply | record | off."),
        max_shift: float = typer.Option(3.0, "--max-shift", help="Drop frames shifted more (LR px)."),
        tile_chips: int = typer.Option(4, "--tile-chips", help="Tile side in chips (unit of work "
                                       "and resumption)."),
        split_block: int = typer.Option(8, "--split-block", help="Side (chips) of the lattice "
                                        "blocks that share a split; smaller mixes train/val/test "
                                        "in small AOIs."),
        split_buffer: int = typer.Option(1, "--split-buffer", help="Chips dropped next to a "
                                         "block of another split (leakage guard)."),
        split_fractions: str = typer.Option("0.8,0.1,0.1", "--split-fractions",
                                            help="train,val,test fractions of the blocks."),
        out: Path = typer.Option(Path("chips"), "--out", help="Output folder (chips.zarr inside)."),
        workers: int = typer.Option(None, "--workers", help="Threads of the local dask cluster."),
        scheduler: str = typer.Option(None, "--scheduler", help="dask scheduler address "
                                      "(tcp://host:8786) instead of a local cluster."),
        dry_run: bool = typer.Option(False, "--dry-run", help="List acquisitions and requests; "
                                     "write nothing."),
        max_area_km2: float = typer.Option(2500.0, "--max-area-km2", help="AOI area limit (km²)."),
        name: str = typer.Option(None, "--name", help="Dataset name (default: AOI file stem)."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
    ) -> None:
        """Search, pair, co-register and chip Landsat/Sentinel-2 imagery into a sample-schema store."""
        from rich.console import Console

        from satsr.fetch.pipeline import FetchConfig, fetch

        options: dict[str, object] = {}
        if source == "local":
            options["root"] = local_dir
        elif source == "stac" and stac_url:
            options["url"] = stac_url
        elif source == "ee":
            for key, value in (("project", project), ("credentials", ee_credentials),
                               ("url", ee_url)):
                if value:
                    options[key] = value
        cfg = FetchConfig(
            start=_date(start, "--start"), end=_date(end, "--end"), out=out,
            aoi=aoi, bbox=bbox, source=source, source_options=options,
            bands=tuple(b.strip() for b in bands.split(",") if b.strip()), max_cloud=max_cloud,
            pair_days=pair_days, frames=frames, chip=chip, overlap=overlap, harmonize=harmonize,
            min_valid=min_valid, coregister=coregister, max_shift=max_shift, tile_chips=tile_chips,
            max_area_km2=max_area_km2, workers=workers, scheduler=scheduler, dry_run=dry_run,
            name=name, progress=progress, split_block=split_block, split_buffer=split_buffer,
            split_fractions=_fractions(split_fractions))
        result = fetch(cfg)
        console = Console()
        plan = result.plan
        if dry_run:
            console.print(f"AOI {plan['aoi']}: {plan['area_km2']} km² in {plan['crs']}, "
                          f"{_n(plan['tiles'], 'tile')}, {_n(plan['chips'], 'chip')}")
            for kind in ("hr_acquisitions", "lr_acquisitions"):
                console.print(f"{kind.replace('_', ' ')}: {len(plan[kind])}")
                for a in plan[kind]:
                    console.print(f"  {a['id']}  {a['time']}  cloud {a['cloud']:.1f}%")
            for p in plan["pairs"]:
                lr = ", ".join(f"{i} (Δt {d:+.1f} d)" for i, d in p["lr"])
                console.print(f"pair {p['hr']} ← {lr}")
            console.print(f"requests: {plan['requests']}, about "
                          f"{plan['request_bytes_estimate'] / 2**20:.1f} MiB")
            return
        counts = ", ".join(f"{k} {v}" for k, v in result.split_counts.items())
        console.print(f"wrote {_n(result.n_scenes, 'chip')} ({counts}) to {result.store} "
                      f"({result.tiles_skipped} of {result.n_tiles} tiles reused)")
        empty = [k for k, v in result.split_counts.items() if v == 0]
        if empty and result.n_scenes:
            hint = (f"a smaller --split-block (e.g. {max(1, split_block // 4)}) mixes the splits "
                    "in small AOIs" if split_block > 1 else "a larger AOI gives every split chips")
            console.print(f"note: no {' or '.join(empty)} chips: the AOI's chips fell in too few "
                          f"{split_block}×{split_block}-chip split blocks; {hint}")
