"""The model a prediction runs: ``NAME[:WEIGHTS]`` → a ready model plus the facts predict needs
(weights checksum and sidecar for the tags and the compatibility check, the receptive field for
the halo, the number of frames the model consumes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from satsr.errors import ConfigError
from satsr.models import SRModel, create_model, model_info


@dataclass
class PredictModel:
    """A model ready for inference.

    ``weights`` is the resolved weights path (None for baselines and bare models),
    ``sha256`` its checksum, ``meta`` its sidecar (empty without weights) and ``reach`` how
    far (LR px, each side) an output pixel's input extends — half the registry's receptive
    field width for this model's hyper-parameters; None when some output depends on the whole
    image (channel attention's global mean, a baseline's clip to the frame's range).
    """

    name: str
    model: SRModel
    weights: Path | None = None
    sha256: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    reach: int | None = None

    @property
    def scale(self) -> int:
        return int(self.model.scale)

    @property
    def in_channels(self) -> int:
        return int(self.model.in_channels)

    def identity(self) -> dict[str, Any]:
        """What decides the model's output (goes into tags and the resume fingerprint)."""
        hparams = {k: v for k, v in getattr(self.model, "hparams", {}).items()
                   if isinstance(v, str | int | float | bool) or v is None}
        return {"model": self.name, "weights_sha256": self.sha256, "hparams": hparams}


def model_reach(name: str, hparams: dict[str, Any] | None = None) -> int | None:
    """LR px each side that an output pixel of ``name`` (built with ``hparams``) depends on:
    ``receptive_field_for(hparams) // 2`` from the registry; None for models with global
    context or without a declared receptive field."""
    info = model_info(name)
    rf_for = getattr(info, "receptive_field_for", None)
    if getattr(info, "global_context", False) or rf_for is None or getattr(info, "rf", 1) is None:
        return None
    return int(rf_for(dict(hparams or {}))) // 2


def frames_used(model: SRModel) -> int | None:
    """How many frames ``model`` consumes per forward (None: every frame it is given)."""
    for attr in ("num_frames", "k"):
        value = getattr(model, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return None if getattr(model, "multi_frame", False) else 1


def wrap_model(model: SRModel, *, name: str | None = None) -> PredictModel:
    """A :class:`PredictModel` around an already built model (notebooks, tests)."""
    key = name or getattr(model, "model_name", "")
    reach = model_reach(key, _hparams(model)) if key else None
    return PredictModel(key or type(model).__name__.lower(), model, reach=reach)


def _hparams(model: SRModel) -> dict[str, Any]:
    return {k: v for k, v in getattr(model, "hparams", {}).items() if v is not None}


def load_model(spec: str, *, scale: int = 3, in_channels: int = 1,
               preset: str | None = None) -> PredictModel:
    """Build ``NAME`` (a baseline, sized by ``scale``/``in_channels``) or ``NAME:WEIGHTS``
    (weights path, URL or shipped tag such as ``sample``; hyper-parameters from the sidecar).

    A learned model needs weights: an untrained network would write noise.
    """
    from satsr.models import weights as wmod

    name, _, source = spec.partition(":")
    info = model_info(name.strip())
    if not source:
        if info.learned:
            raise ConfigError(f"model {info.name!r} needs trained weights: pass "
                              f"--model {info.name}:PATH (a .safetensors file) or a shipped tag "
                              f"such as {info.name}:sample")
        model = create_model(info.name, scale=scale, in_channels=in_channels, preset=preset)
        return PredictModel(info.name, model, reach=model_reach(info.name, _hparams(model)))
    path = wmod.resolve_weights(info.name, source)
    meta = wmod.read_sidecar(path)
    hparams = dict(meta.get("hparams", {}))
    model = create_model(info.name, weights=path, **hparams)
    return PredictModel(info.name, model, weights=path, sha256=str(meta.get("sha256", "")),
                        meta=meta, reach=model_reach(info.name, _hparams(model)))
