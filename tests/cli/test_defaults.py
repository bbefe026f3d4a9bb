"""The CLI's defaults are the config dataclasses' defaults (one source of truth, enforced).

The commands cannot read the dataclasses at import time without importing torch (they live
beside the training/bench code), which would slow every ``satsr`` call; this test keeps the two
in step instead.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import typer

from satsr.bench import BenchConfig
from satsr.cli import app
from satsr.train import TrainConfig

#: option -> why the CLI default differs from the dataclass
DIFFERENT = {
    ("train", "model"): "required on the command line (the dataclass has no default)",
    ("train", "out"): "the CLI derives runs/<model> when --out is not given",
    ("bench", "models"): "the CLI picks 'all', or 'bicubic' as the label of --predictions runs",
}


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


@pytest.mark.parametrize(("command", "config"), [("train", TrainConfig), ("bench", BenchConfig)])
def test_cli_defaults_equal_config_defaults(command: str, config: type) -> None:
    params = typer.main.get_command(app).commands[command].params  # type: ignore[attr-defined]
    fields = {f.name: f for f in dataclasses.fields(config)}
    shared = [p for p in params if p.name in fields]
    assert len(shared) >= 8
    wrong = {p.name: (p.default, _default(fields[p.name])) for p in shared
             if (command, p.name) not in DIFFERENT and p.default != _default(fields[p.name])}
    assert not wrong, f"satsr {command}: CLI default != {config.__name__} default: {wrong}"
