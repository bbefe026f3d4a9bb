"""``satsr models``: the model zoo table."""

from __future__ import annotations

import typer


def _no_match(pattern: str | None, kind: str | None, known: list[str]) -> str:
    """One line for a filter that matches no model, with the closest names."""
    import difflib

    stem = (pattern or "").replace("*", "").replace("?", "").lower()
    close = difflib.get_close_matches(stem, known, n=3, cutoff=0.5) if stem else []
    hint = f"did you mean {', '.join(close)}? " if close else ""
    what = " and ".join(x for x in (f"pattern {pattern!r}" if pattern else "",
                                    f"kind {kind!r}" if kind else "") if x)
    return f"no model matches {what}; {hint}`satsr models` lists all {len(known)}"


def register(app: typer.Typer) -> None:
    """Add the ``models`` command to ``app``."""

    @app.command("models")
    def models_cmd(
        pattern: str = typer.Argument(None, help="Wildcard filter, e.g. 'edsr*'."),
        kind: str = typer.Option(None, help="Only this kind: baseline, single or multi."),
        params: bool = typer.Option(True, help="Count parameters (builds each model on the "
                                               "meta device: no memory, no weights)."),
        preset: str = typer.Option("small", help="Preset of the second parameter column "
                                                 "(e.g. 'small')."),
        scale: int = typer.Option(3, min=1, help="Scale factor for the parameter counts."),
        in_channels: int = typer.Option(1, "--in-channels", min=1,
                                        help="Bands for the parameter counts."),
    ) -> None:
        """List every registered model: name, kind, parameters (published and preset), paper."""
        import torch
        from rich.console import Console
        from rich.table import Table

        from satsr.errors import ConfigError
        from satsr.models import count_parameters, create_model, list_models, model_info

        if kind and kind not in ("baseline", "single", "multi"):
            raise ConfigError(f"unknown kind {kind!r}; use baseline, single or multi")
        names = list_models(pattern, kind=kind)
        if not names:
            raise ConfigError(_no_match(pattern, kind, list_models()))
        presets = sorted({p for n in list_models() for p in model_info(n).presets})
        if preset not in presets:
            raise ConfigError(f"no model has a preset {preset!r}; presets: {', '.join(presets)}")

        def n_params(name: str, which: str | None) -> str:
            if not params or (which and which not in model_info(name).presets):
                return "-" if params else ""
            with torch.device("meta"):
                model = create_model(name, scale=scale, in_channels=in_channels, preset=which)
            return f"{count_parameters(model):,}"

        table = Table(title=f"satsr model zoo (parameters at ×{scale}, {in_channels} band(s))")
        for col in ("name", "kind", "params", f"params ({preset})", "paper", "year"):
            table.add_column(col, justify="right" if "params" in col or col == "year"
                             else "left", no_wrap=col != "paper")
        for name in names:
            info = model_info(name)
            table.add_row(name, info.kind, n_params(name, None), n_params(name, preset),
                          info.paper, str(info.year))
        Console().print(table)
