"""Checks of ``create_model`` arguments, run before a network allocates any memory.

The data arguments (scale, bands, frames) must be positive integers, and the hyper-parameters
must build a network of a sane size: the model is first built on PyTorch's ``meta`` device (no
memory), so a negative width is one clear line and a sidecar asking for 10 million channels is
refused instead of allocating gigabytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from satsr.errors import ConfigError

#: largest network create_model builds (parameters); the biggest published model here has ~43 M
MAX_PARAMETERS = 2_000_000_000


def check_data_args(name: str, scale: object, in_channels: object, num_frames: object) -> None:
    """``scale`` and ``in_channels`` are integers >= 1, ``num_frames`` None or >= 1."""
    for arg, value, optional in (("scale", scale, False), ("in_channels", in_channels, False),
                                 ("num_frames", num_frames, True)):
        if value is None and optional:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"model {name!r}: {arg}={value!r} must be a whole number >= 1")


def _shown(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in sorted(params.items()))


def probe(name: str, factory: Callable[..., Any], kwargs: dict[str, Any],
          params: dict[str, Any]) -> int:
    """Build the network on the meta device and return its parameter count; refuse
    hyper-parameters that cannot build it or that ask for more than :data:`MAX_PARAMETERS`."""
    import torch

    try:
        with torch.device("meta"):
            model = factory(**kwargs, **params)
    except TypeError as exc:
        raise ConfigError(f"bad hyper-parameters for model {name!r}: {exc}") from None
    except (ValueError, RuntimeError, ZeroDivisionError, OverflowError) as exc:
        reason = " ".join(str(exc).split())[:160]
        raise ConfigError(f"model {name!r} cannot be built with {_shown(params)} ({reason}); "
                          "fix the hyper-parameters (widths and depths must be >= 1)") from None
    n = int(sum(p.numel() for p in model.parameters()))
    if n > MAX_PARAMETERS:
        raise ConfigError(f"model {name!r} with {_shown(params)} would have {n:,} parameters "
                          f"(limit {MAX_PARAMETERS:,}); fix the hyper-parameters")
    return n


def check_fits_file(name: str, n_parameters: int, path: Any, params: dict[str, Any]) -> None:
    """Refuse hyper-parameters that need far more values than the weights file ``path`` holds
    (read from its safetensors header only), before the network is allocated.

    Only gross mismatches (over twice the stored values plus a million) stop here, so a sidecar
    asking for 10 million channels never allocates gigabytes; small mismatches are left to the
    loader, whose messages name the differing scale, bands or tensor. An unreadable header is
    left to the loader too, which reports the corruption."""
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:  # type: ignore[no-untyped-call]
            stored = sum(_numel(f.get_slice(key).get_shape()) for key in f.keys())  # noqa: SIM118
    except Exception:  # any unreadable header: load_weights names the problem
        return
    if n_parameters > 2 * stored + 1_000_000:
        raise ConfigError(f"model {name!r} with {_shown(params)} has {n_parameters:,} parameters "
                          f"but weights file {path} holds {stored:,} values; its sidecar's "
                          "hparams do not match the weights (re-export or re-train them)")


def _numel(shape: list[int]) -> int:
    n = 1
    for side in shape:
        n *= int(side)
    return n
