"""Which named preset a model's hyper-parameters correspond to (for tables that show sizes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from satsr.errors import ModelNotFoundError


def preset_of(name: str, hparams: Mapping[str, Any]) -> str:
    """``"published"`` when ``hparams`` equal the model's published defaults, the preset's name
    when they equal a preset (e.g. ``"small"``), else ``"custom"``. Keys absent from ``hparams``
    are not compared (summaries keep scalar hyper-parameters only)."""
    from satsr.models import model_info
    from satsr.models._registry import resolve_hparams

    try:
        info = model_info(name)
    except ModelNotFoundError:
        return "custom"
    for label, preset in (("small", "small"), ("published", None),
                          *((p, p) for p in info.presets if p != "small")):
        if preset is not None and preset not in info.presets:
            continue
        expected = resolve_hparams(info, preset)
        if all(hparams.get(k, v) == v for k, v in expected.items()
               if isinstance(v, str | int | float | bool)):
            return label
    return "custom"
