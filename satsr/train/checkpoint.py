"""Training checkpoints: model weights via :mod:`satsr.models.weights`, the rest of the training
state (optimizer, RNG, counters) in ``state.safetensors`` + ``state.json``. No pickle anywhere.

Layout of a run folder::

    best.safetensors  best.json     best weights so far (by validation cPSNR) + sidecar
    last.safetensors  last.json     weights at the last checkpoint + sidecar
    state.safetensors state.json    optimizer / discriminator / RNG tensors + step, history
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from satsr._atomic import write_bytes
from satsr.errors import CorruptFileError, WeightsNotFoundError


def flatten_optimizer(prefix: str, state: Mapping[str, Any]
                      ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split a torch optimizer ``state_dict`` into tensors (for safetensors) and JSON parts."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for pid, entry in state["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}.{pid}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{pid}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def unflatten_optimizer(prefix: str, tensors: Mapping[str, torch.Tensor],
                        meta: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`flatten_optimizer`."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if not name.startswith(prefix + "."):
            continue
        pid, key = name[len(prefix) + 1:].split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    for name, value in meta["scalars"].items():
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def save_state(folder: Path, tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]
               ) -> None:
    """Write ``state.safetensors`` and ``state.json`` (JSON last: it marks a complete state)."""
    from safetensors.torch import save

    folder.mkdir(parents=True, exist_ok=True)
    write_bytes(folder / "state.safetensors", save(dict(tensors)))
    write_bytes(folder / "state.json", (json.dumps(meta, indent=1, sort_keys=True) + "\n").encode())


def load_state(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a state written by :func:`save_state`; clear errors when missing or corrupt."""
    from safetensors.torch import load_file

    meta_path, tensor_path = folder / "state.json", folder / "state.safetensors"
    if not meta_path.exists() or not tensor_path.exists() or not (folder /
                                                                  "last.safetensors").exists():
        raise WeightsNotFoundError(f"nothing to resume in {folder}: no state.json/last.safetensors"
                                   "; drop --resume to start a new run there")
    try:
        meta = json.loads(meta_path.read_text())
        tensors = load_file(str(tensor_path))
    except Exception as exc:  # json / safetensors errors
        raise CorruptFileError(f"training state in {folder} is corrupt ({type(exc).__name__}: "
                               f"{exc}); start a new run without --resume") from None
    return tensors, meta
