"""Model registry (timm-like): metadata for every model, imported lazily on creation.

Each model is described by a :class:`ModelInfo` whose ``entrypoint`` is ``"module:callable"``;
the module is imported only when the model is created, so one broken optional dependency never
breaks ``list_models``. The callable is called as ``fn(scale=..., in_channels=..., num_frames=...,
**hparams)`` and returns an :class:`satsr.models.base.SRModel`.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from satsr.errors import ConfigError, ModelNotFoundError

if TYPE_CHECKING:
    from pathlib import Path

    from satsr.models.base import SRModel

ModelKind = Literal["baseline", "single", "multi"]


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about a model without importing it (the one source of truth).

    ``defaults`` are the published hyper-parameters; ``presets`` holds named overrides such as
    ``"small"`` (a CPU-sized configuration). ``learned`` is False for the interpolation baselines.
    ``adversarial`` models train with a discriminator by default (``satsr train``'s GAN step).
    ``rf`` maps a model's hyper-parameters (``model.hparams``: scale, num_frames and the
    architecture's own) to its receptive field in LR pixels, computed from the layer stack with
    :mod:`satsr.models._receptive`; :attr:`receptive_field` is its value for the defaults at ×3.
    ``global_context`` is True when some output also depends on whole-image statistics (channel
    attention's global mean, a baseline's per-frame [min, max] clip), so a tile with a halo of
    ``receptive_field // 2`` matches the whole image only approximately. Every model also picks
    frames by their clear-pixel count over the whole input, so tiles of a frame stack should share
    the whole scene's choice.
    """

    name: str
    entrypoint: str
    kind: ModelKind
    paper: str
    year: int
    url: str = ""
    description: str = ""
    learned: bool = True
    defaults: dict[str, Any] = field(default_factory=dict)
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    rf: Callable[[Mapping[str, Any]], int] | None = None
    global_context: bool = False
    adversarial: bool = False

    def receptive_field_for(self, hparams: Mapping[str, Any]) -> int:
        """Receptive field (odd width, LR pixels) of a model built with ``hparams``.

        ``hparams`` is ``model.hparams`` (or any mapping with ``scale`` and the architecture's
        hyper-parameters; missing ones take the defaults).
        """
        if self.rf is None:
            raise ConfigError(f"model {self.name!r} declares no receptive field")
        return int(self.rf({"scale": 3, "num_frames": None, **self.defaults, **hparams}))

    @property
    def receptive_field(self) -> int:
        """Receptive field (odd width, LR pixels) of the published configuration at ×3."""
        return self.receptive_field_for({})

    @property
    def multi_frame(self) -> bool:
        """True when the architecture fuses several LR frames natively."""
        return self.kind == "multi"


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(info: ModelInfo) -> ModelInfo:
    """Add ``info`` to the registry (names are unique and lower-case)."""
    if info.name != info.name.lower():
        raise ValueError(f"model names are lower-case: {info.name!r}")
    if info.name in _REGISTRY:
        raise ValueError(f"model {info.name!r} is registered twice")
    _REGISTRY[info.name] = info
    return info


def list_models(pattern: str | None = None, *, kind: str | None = None) -> list[str]:
    """Registered model names, sorted, filtered by a shell wildcard ``pattern`` and ``kind``."""
    names = sorted(_REGISTRY)
    if pattern:
        names = [n for n in names if fnmatch.fnmatch(n, pattern.lower())]
    if kind:
        names = [n for n in names if _REGISTRY[n].kind == kind]
    return names


def model_info(name: str) -> ModelInfo:
    """The :class:`ModelInfo` of ``name``; unknown names raise with close matches."""
    key = name.lower()
    if key not in _REGISTRY:
        close = difflib.get_close_matches(key, list(_REGISTRY), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ModelNotFoundError(
            f"unknown model {name!r}{hint} (`satsr models` lists all {len(_REGISTRY)} models)"
        )
    return _REGISTRY[key]


def resolve_hparams(
    info: ModelInfo, preset: str | None = None, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Defaults, then a named preset, then explicit overrides."""
    params = dict(info.defaults)
    if preset and preset != "default":
        if preset not in info.presets:
            raise ConfigError(f"model {info.name!r} has no preset {preset!r}; it has "
                              f"{['default', *info.presets]}")
        params.update(info.presets[preset])
    params.update(overrides or {})
    return params


def create_model(
    name: str,
    *,
    scale: int = 3,
    in_channels: int = 1,
    num_frames: int | None = None,
    weights: str | Path | None = None,
    preset: str | None = None,
    **hparams: Any,
) -> SRModel:
    """Instantiate a registered model.

    ``preset`` picks a named configuration (e.g. ``"small"``), ``hparams`` override single
    hyper-parameters, and ``weights`` (a path, URL or shipped tag) loads trained weights whose
    metadata must match ``scale``/``in_channels``.
    """
    info = model_info(name)
    params = resolve_hparams(info, preset, hparams)
    module_name, _, attr = info.entrypoint.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"model {info.name!r} needs a package that is not installed "
                          f"({exc}); install satsr with its extras") from None
    factory = getattr(module, attr)
    try:
        model: SRModel = factory(
            scale=scale, in_channels=in_channels, num_frames=num_frames, **params
        )
    except TypeError as exc:
        raise ConfigError(f"bad hyper-parameters for model {info.name!r}: {exc}") from None
    model.model_name = info.name
    model.hparams = {"scale": scale, "in_channels": in_channels, "num_frames": num_frames,
                     **params}
    if weights is not None:
        from satsr.models.weights import load_weights

        load_weights(model, weights)
    return model


def count_parameters(model: Any) -> int:
    """Number of parameters (weights and biases) of a torch module."""
    return int(sum(p.numel() for p in model.parameters()))
