"""``--init NAME:PATH``: start a generator from separately trained weights of a compatible model.

How SRGAN is usually built: train ``edsr`` with a pixel loss, then start ``srgan`` (whose
generator is an EDSR network) from those weights. The weights must be ``NAME``'s (their sidecar
says so), verified by their sha256, trained on data like the training set (bands, scale, value
scale) and have exactly the generator's tensor names and shapes; anything else is one
:class:`~satsr.errors.ConfigError` line. The sidecar's input normalisation comes along (the
weights were trained on it).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from satsr.errors import ConfigError


def parse_init(spec: str) -> tuple[str, str]:
    """``"edsr:runs/edsr/best.safetensors"`` -> ``("edsr", "runs/edsr/best.safetensors")``."""
    name, sep, path = spec.partition(":")
    if not sep or not name or not path:
        raise ConfigError(f"--init {spec!r} is not NAME:PATH (e.g. --init "
                          "edsr:runs/edsr/best.safetensors)")
    return name.strip(), path


def init_generator(model: nn.Module, spec: str, data_facts: dict[str, Any], *,
                   allow_mismatch: bool = False) -> dict[str, Any]:
    """Load ``spec``'s weights into ``model`` in place; return their sidecar.

    ``data_facts`` are the training data's facts (see
    :func:`satsr.models.weights.check_compatible`); ``allow_mismatch`` turns a data mismatch
    into a warning.
    """
    from safetensors.torch import load_file

    from satsr.models import model_info
    from satsr.models.weights import (
        apply_normalisation,
        check_compatible,
        read_sidecar,
        require_checksum,
        resolve_weights,
        verify_checksum,
    )

    name, source = parse_init(spec)
    name = model_info(name).name  # unknown names fail here, with the list of models
    path = resolve_weights(name, source)
    meta = read_sidecar(path)
    require_checksum(meta, path)
    verify_checksum(path, str(meta["sha256"]))
    trained_for = str(meta.get("model", ""))
    if trained_for and trained_for != name:
        raise ConfigError(f"--init {spec}: {path.name} holds {trained_for!r} weights, not "
                          f"{name!r}; use --init {trained_for}:{source}")
    for key in ("scale", "in_channels"):
        if key in meta and int(meta[key]) != int(getattr(model, key, meta[key])):
            raise ConfigError(f"--init {spec}: the weights were trained for {key} {meta[key]}, "
                              f"the generator has {getattr(model, key)}")
    check_compatible(meta, data_facts, weights=path.name, allow_mismatch=allow_mismatch)
    state = load_file(str(path))
    own = model.state_dict()
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in own
              if k in state and own[k].shape != state[k].shape]
    if missing or unexpected or shapes:
        detail = (f"missing {missing[:2]}" if missing else f"unexpected {unexpected[:2]}"
                  if unexpected else f"shape mismatch at {shapes[:2]}")
        hp = {k: v for k, v in dict(meta.get("hparams", {})).items()
              if k not in ("scale", "in_channels", "num_frames") and v is not None}
        flags = " ".join(f"--hparam {k}={v}" for k, v in sorted(hp.items())) or "--hparam"
        raise ConfigError(f"--init {spec}: {name} weights do not fit the generator ({detail}); "
                          f"build the generator like them ({flags}) or train {name} with the "
                          "generator's hyper-parameters")
    model.load_state_dict(state)
    apply_normalisation(model, meta.get("normalisation"))  # type: ignore[arg-type]
    return meta
