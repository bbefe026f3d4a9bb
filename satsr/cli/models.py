"""``satsr models``: the model zoo table."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the ``models`` command to ``app``."""

    @app.command("models")
    def models_cmd(
        pattern: str = typer.Argument(None, help="Wildcard filter, e.g. 'edsr*'."),
        params: bool = typer.Option(True, help="Count parameters (instantiates each model)."),
    ) -> None:
        """List every registered model: name, kind, parameters, paper."""
        from rich.console import Console
        from rich.table import Table

        from satsr.models import count_parameters, create_model, list_models, model_info

        table = Table(title="satsr model zoo")
        for col in ("name", "kind", "params", "paper", "year"):
            table.add_column(col, justify="right" if col in ("params", "year") else "left")
        for name in list_models(pattern):
            info = model_info(name)
            n = f"{count_parameters(create_model(name)):,}" if params else ""
            table.add_row(name, info.kind, n, info.paper, str(info.year))
        Console().print(table)
