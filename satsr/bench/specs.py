"""Which models a bench run evaluates, and with which weights.

A model spec is ``NAME`` (a registered model), ``NAME:PATH`` (a learned model with a weights
file), a wildcard (``edsr*``) or ``all``. Learned models need trained weights: by default the
weights shipped for the dataset (``satsr.models.weights.pretrained``); ``all`` skips learned
models that have none for the dataset and records why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from satsr.errors import ConfigError
from satsr.models import SRModel, create_model, list_models, model_info, weights
from satsr.models._registry import check_weights_fit


@dataclass
class ModelSpec:
    """A model to benchmark: registry name and optional weights file."""

    name: str
    weights: Path | None = None
    explicit: bool = True


@dataclass
class ResolvedModel:
    """A model ready to run, with what the summary reports about it."""

    name: str
    model: SRModel
    weights: str | None
    meta: dict[str, Any] = field(default_factory=dict)  # identity extras (stored predictions)
    weights_path: Path | None = None  # the file loaded (its sha256 is part of result identity)


def parse_model_specs(spec: str | list[str]) -> list[ModelSpec]:
    """``"bicubic,edsr:w.safetensors,rdn*"`` or ``"all"`` → specs (unknown names raise)."""
    parts = spec if isinstance(spec, list) else [p for p in spec.split(",")]
    out: list[ModelSpec] = []
    for raw in (p.strip() for p in parts):
        if not raw:
            continue
        if raw.lower() == "all":
            out.extend(ModelSpec(n, explicit=False) for n in list_models())
            continue
        name, _, weights = raw.partition(":")
        if any(ch in name for ch in "*?["):
            matched = list_models(name)
            if not matched:
                raise ConfigError(f"model pattern {name!r} matches no model (`satsr models`)")
            out.extend(ModelSpec(n, explicit=False) for n in matched)
            continue
        info = model_info(name)  # raises ModelNotFoundError with close matches
        path = Path(weights).expanduser() if weights else None
        if path is not None and not path.exists():
            raise ConfigError(f"weights file {path} for model {info.name!r} does not exist")
        out.append(ModelSpec(info.name, path))
    if not out:
        raise ConfigError("no models given; pass --models NAMES (comma-separated) or 'all'")
    seen: dict[str, ModelSpec] = {}
    for s in out:
        if s.name not in seen or s.explicit:
            seen[s.name] = s
    # baselines first, then the rest in registry order
    return sorted(seen.values(), key=lambda s: (model_info(s.name).learned, s.name))


def _create_from_weights(name: str, path: Path,
                         facts: dict[str, Any] | None, *, allow_mismatch: bool,
                         trust_unverified: bool) -> SRModel:
    """Build ``name`` with the hyper-parameters in the weights' sidecar, check that they were
    trained on data like ``facts`` (:func:`satsr.models.weights.check_compatible`), load them."""
    meta = weights.read_sidecar(path)
    if facts is not None:
        weights.check_compatible(meta, facts, allow_mismatch=allow_mismatch,
                                     weights=f"{name}:{path.name}")
    hparams = dict(meta.get("hparams", {}))
    check_weights_fit(name, path, **hparams)  # a sidecar asking for a huge net allocates nothing
    model = create_model(name, **hparams)
    weights.load_weights(model, path, trust_unverified=trust_unverified)
    return model


def resolve_model(
    spec: ModelSpec, *, dataset: str, band: str, scale: int, in_channels: int,
    facts: dict[str, Any] | None = None, allow_mismatch: bool = False,
    trust_unverified: bool = False,
) -> tuple[ResolvedModel | None, str | None]:
    """Build the model for one dataset × band; returns (model, None) or (None, skip reason).

    ``facts`` (:func:`satsr.models.weights.dataset_facts`) are checked against the weights'
    sidecar; ``allow_mismatch``/``trust_unverified`` are ``--allow-mismatch`` and
    ``--trust-unverified``."""
    flags = {"allow_mismatch": allow_mismatch, "trust_unverified": trust_unverified}
    info = model_info(spec.name)
    if not info.learned:
        model = create_model(spec.name, scale=scale, in_channels=in_channels)
        return ResolvedModel(spec.name, model, None), None
    if spec.weights is not None:
        model = _create_from_weights(spec.name, spec.weights, facts, **flags)
        return ResolvedModel(spec.name, model, str(spec.weights),
                             weights_path=Path(spec.weights)), None
    path = weights.pretrained(spec.name, dataset, band)
    if path is None:
        reason = (f"no trained weights for {dataset!r} band {band!r}; train with `satsr train "
                  f"--model {spec.name} --dataset {dataset}` and pass {spec.name}:PATH")
        if spec.explicit:
            raise ConfigError(f"model {spec.name!r} has {reason}")
        return None, reason
    model = _create_from_weights(spec.name, Path(path), facts, **flags)
    return ResolvedModel(spec.name, model, Path(path).name, weights_path=Path(path)), None


def check_compatible(resolved: ResolvedModel, *, scale: int, in_channels: int) -> None:
    """Fail clearly when weights were trained for another scale or channel count."""
    m = resolved.model
    if m.scale != scale or m.in_channels != in_channels:
        raise ConfigError(
            f"model {resolved.name!r} ({resolved.weights or 'default'}) is for scale {m.scale} "
            f"with {m.in_channels} channel(s), but the dataset has scale {scale} with "
            f"{in_channels} band(s)")
