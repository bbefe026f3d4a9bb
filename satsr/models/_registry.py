"""Model registry (timm-like): metadata for every model, imported lazily on creation.

Each model is described by a :class:`ModelInfo` (kept in ``MODELS``, a generic
:class:`satsr._registry.Registry`) whose ``entrypoint`` is ``"module:callable"``; the module is
imported only when the model is created, so one broken optional dependency never breaks
``list_models``. The callable is called as ``fn(scale=..., in_channels=..., num_frames=...,
**hparams)`` and returns an :class:`satsr.models.base.SRModel`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from satsr._registry import Registry, load_target
from satsr.defaults import DEFAULT_SCALE
from satsr.errors import ConfigError, ModelNotFoundError
from satsr.models._validate import check_data_args, check_fits_file, probe

if TYPE_CHECKING:
    from pathlib import Path

    from satsr.models.base import SRModel

ModelKind = Literal["baseline", "single", "multi"]


@dataclass(frozen=True)
class Reference:
    """The implementation a model name reproduces: its ``code`` (repository file or paper
    section), a ``url``, and the reference configuration (``config`` hyper-parameters at
    ``scale`` on ``in_channels`` bands) at which satsr's parameter count equals the reference's
    (``tests/models/test_param_counts.py`` asserts the published counts).
    ``interpretation`` marks names built from a paper's text where no code was published."""

    code: str
    url: str
    config: dict[str, Any] = field(default_factory=dict)
    scale: int = DEFAULT_SCALE
    in_channels: int = 1
    interpretation: bool = False


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
    ``receptive_field // 2`` matches the whole image only approximately. ``reference`` names the
    implementation the name reproduces (:class:`Reference`). Every model also picks
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
    multi_frame: bool | None = None  # fuses several LR frames natively; None: kind == "multi"
    rf: Callable[[Mapping[str, Any]], int] | None = None
    global_context: bool = False
    adversarial: bool = False
    reference: Reference | None = None

    def receptive_field_for(self, hparams: Mapping[str, Any]) -> int:
        """Receptive field (odd width, LR pixels) of a model built with ``hparams``.

        ``hparams`` is ``model.hparams`` (or any mapping with ``scale`` and the architecture's
        hyper-parameters; missing ones take the defaults).
        """
        if self.rf is None:
            raise ConfigError(f"model {self.name!r} declares no receptive field")
        return int(self.rf({"scale": DEFAULT_SCALE, "num_frames": None, **self.defaults,
                            **hparams}))

    @property
    def receptive_field(self) -> int:
        """Receptive field (odd width, LR pixels) of the published configuration at ×3."""
        return self.receptive_field_for({})

    def __post_init__(self) -> None:
        if self.multi_frame is None:  # learned multi-frame networks; baselines say so explicitly
            object.__setattr__(self, "multi_frame", self.kind == "multi")


MODELS: Registry[ModelInfo] = Registry(
    "model", not_found=ModelNotFoundError, hint="`satsr models` lists them")


def register_model(info: ModelInfo) -> ModelInfo:
    """Add ``info`` to the registry (names are unique and lower-case)."""
    return MODELS.register(info.name, info)


def unregister_model(name: str) -> None:
    """Remove ``name`` (tests and notebooks that register throw-away models clean up with it)."""
    MODELS.unregister(name)


def list_models(
    pattern: str | None = None,
    *,
    kind: str | None = None,
    module: str | None = None,
    exclude: str | None = None,
    multi_frame: bool | None = None,
    adversarial: bool | None = None,
    learned: bool | None = None,
) -> list[str]:
    """Registered model names, sorted, filtered like timm's ``list_models``.

    ``pattern``/``exclude`` are shell wildcards on the name, ``module`` a wildcard on the
    entrypoint's module (``"satsr.*"`` = satsr's own catalog), the rest must equal the
    :class:`ModelInfo` facts of the same name.
    """
    def keep(info: ModelInfo) -> bool:
        return ((kind is None or info.kind == kind)
                and (module is None
                     or fnmatch.fnmatch(info.entrypoint.partition(":")[0], module))
                and (exclude is None or not fnmatch.fnmatch(info.name, exclude.lower()))
                and (multi_frame is None or info.multi_frame == multi_frame)
                and (adversarial is None or info.adversarial == adversarial)
                and (learned is None or info.learned == learned))

    return MODELS.names(pattern, where=keep)


def model_info(name: str) -> ModelInfo:
    """The :class:`ModelInfo` of ``name``; unknown names raise with close matches."""
    return MODELS.get(name)


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
    scale: int = DEFAULT_SCALE,
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
    check_data_args(info.name, scale, in_channels, num_frames)
    params = resolve_hparams(info, preset, hparams)
    try:
        factory = load_target(info.entrypoint, what=f"model {info.name!r}")
    except ModuleNotFoundError as exc:  # a satsr module that does not exist
        raise ConfigError(f"model {info.name!r} points at a missing module ({exc}); fix its "
                          "registry entrypoint") from None
    data_args = {"scale": scale, "in_channels": in_channels, "num_frames": num_frames}
    n_parameters = probe(info.name, factory, data_args, params)  # refuses bad sizes early
    if weights is not None:
        from satsr.models.weights import resolve_weights

        weights = resolve_weights(info.name, weights)
        check_fits_file(info.name, n_parameters, weights, params)
    model: SRModel = factory(**data_args, **params)
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


def check_weights_fit(name: str, path: Any, **kwargs: Any) -> None:
    """Refuse building ``name`` with ``kwargs`` (as ``create_model`` takes them, e.g. a weights
    sidecar's hparams) when the network would be far larger than the weights file ``path`` —
    checked on the meta device, before anything is allocated."""
    info = model_info(name)
    data_args = {k: kwargs.pop(k, d) for k, d in (("scale", DEFAULT_SCALE), ("in_channels", 1),
                                                  ("num_frames", None))}
    check_data_args(info.name, *data_args.values())
    params = resolve_hparams(info, kwargs.pop("preset", None), kwargs)
    factory = load_target(info.entrypoint, what=f"model {info.name!r}")
    check_fits_file(info.name, probe(info.name, factory, data_args, params), path, params)
