"""Build a model from its shipped weights (registry + weights, so neither imports the other)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from satsr.models._registry import create_model
from satsr.models.weights import DATA_KEYS, pretrained, read_sidecar

if TYPE_CHECKING:
    from satsr.models.base import SRModel


def create_pretrained(name: str, dataset: str = "sample", band: str | None = None,
                      **overrides: Any) -> SRModel | None:
    """Build ``name`` with the hyper-parameters recorded next to its shipped weights and load them.

    Returns None when no weights are shipped for this model/dataset/band.
    """
    path = pretrained(name, dataset, band)
    if path is None:
        return None
    meta = read_sidecar(path)
    hparams = dict(meta.get("hparams", {}))
    kwargs = {k: hparams.pop(k) for k in DATA_KEYS if k in hparams}
    kwargs.update(hparams)
    kwargs.update(overrides)
    return create_model(name, weights=path, **kwargs)

