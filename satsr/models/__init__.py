"""The satsr model zoo: ``list_models``, ``create_model``, ``model_info``."""

from __future__ import annotations

from satsr.models import _catalog  # noqa: F401  (registers every model by metadata)
from satsr.models._registry import (
    ModelInfo,
    count_parameters,
    create_model,
    list_models,
    model_info,
    register_model,
    unregister_model,
)
from satsr.models.base import SingleImageSR, SRModel
from satsr.models.pretrained import create_pretrained

__all__ = [
    "ModelInfo",
    "SRModel",
    "SingleImageSR",
    "count_parameters",
    "create_model",
    "create_pretrained",
    "list_models",
    "model_info",
    "register_model",
    "unregister_model",
]
