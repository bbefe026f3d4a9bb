"""VGG19 feature extractor for perceptual and texture losses, without torchvision.

The layers mirror torchvision's ``vgg19().features`` exactly (same indices, so the state-dict
keys ``features.<i>.weight`` match), and the ImageNet weights are read from a local file:
``$SATSR_VGG19_WEIGHTS`` or torch hub's cache ``<hub dir>/checkpoints/vgg19-dcbb9e9d.pth``
(``~/.cache/torch/hub/checkpoints`` by default). ``.pth`` files are read with
``torch.load(weights_only=True)`` (tensors only, no arbitrary unpickling); ``.safetensors`` works
too. Only the feature weights are used; the classifier is ignored.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from satsr.errors import ConfigError, CorruptFileError, WeightsNotFoundError

VGG19_FILE = "vgg19-dcbb9e9d.pth"
VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
# torchvision configuration "E": channels per conv, "M" = max-pool
VGG19_CFG: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
                                    512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def build_vgg19_features() -> tuple[nn.Sequential, dict[str, int]]:
    """torchvision's ``vgg19().features`` layers and a name → index map (conv1_1, relu1_1, ...)."""
    layers: list[nn.Module] = []
    names: dict[str, int] = {}
    in_ch, block, conv = 3, 1, 1
    for item in VGG19_CFG:
        if item == "M":
            names[f"pool{block}"] = len(layers)
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            block, conv = block + 1, 1
            continue
        out_ch = int(item)
        names[f"conv{block}_{conv}"] = len(layers)
        layers.append(nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1))
        names[f"relu{block}_{conv}"] = len(layers)
        layers.append(nn.ReLU(inplace=False))
        in_ch, conv = out_ch, conv + 1
    return nn.Sequential(*layers), names


def default_weights_path() -> Path:
    """``$SATSR_VGG19_WEIGHTS`` or the torch hub cache location of torchvision's VGG19 file."""
    env = os.environ.get("SATSR_VGG19_WEIGHTS")
    if env:
        return Path(env).expanduser()
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE


def vgg19_weights_available(path: str | os.PathLike[str] | None = None) -> bool:
    """True when the VGG19 weights file exists where :func:`default_weights_path` looks."""
    return Path(path).expanduser().exists() if path else default_weights_path().exists()


def load_vgg19_state(path: str | os.PathLike[str] | None = None) -> dict[str, torch.Tensor]:
    """The ``features.*`` tensors of the VGG19 file, keyed ``<index>.weight``/``<index>.bias``."""
    file = Path(path).expanduser() if path else default_weights_path()
    if not file.exists():
        raise WeightsNotFoundError(
            f"perceptual/texture losses need ImageNet VGG19 weights: put torchvision's "
            f"{VGG19_FILE} ({VGG19_URL}) at {default_weights_path()} or set "
            f"SATSR_VGG19_WEIGHTS=/path/to/{VGG19_FILE} (.pth or .safetensors); "
            f"or train with --content-loss l1")
    try:
        if file.suffix == ".safetensors":
            from safetensors.torch import load_file

            raw = load_file(str(file))
        else:
            raw = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle/zip/safetensors errors have many types
        raise CorruptFileError(f"VGG19 weights {file} cannot be read ({type(exc).__name__}: "
                               f"{exc}); download {VGG19_URL} again") from None
    if not isinstance(raw, dict):
        raise CorruptFileError(f"VGG19 weights {file} do not hold a state dict")
    state = {k[len("features."):]: v for k, v in raw.items() if k.startswith("features.")}
    if not state:
        raise CorruptFileError(f"VGG19 weights {file} have no 'features.*' tensors; is it "
                               f"torchvision's {VGG19_FILE}?")
    return state


class VGG19Features(nn.Module):
    """Frozen VGG19 truncated after the deepest requested layer; returns ``{name: features}``.

    Input (B, C, H, W) on a value scale with peak ``data_range``; 1 channel is repeated to RGB,
    3 channels are used as is, other counts are averaged to grey first.
    """

    def __init__(self, layers: list[str], *, weights_path: str | os.PathLike[str] | None = None,
                 data_range: float = 1.0) -> None:
        super().__init__()
        features, names = build_vgg19_features()
        unknown = [n for n in layers if n not in names]
        if unknown:
            raise ConfigError(f"unknown VGG19 layer {unknown[0]!r}; use names like conv5_4, "
                              f"relu2_2 ({sorted(names)[:6]}...)")
        last = max(names[n] for n in layers)
        state = load_vgg19_state(weights_path)
        self.features: nn.Sequential = features[: last + 1]  # type: ignore[assignment]
        own = self.features.state_dict()
        missing = [k for k in own if k not in state or state[k].shape != own[k].shape]
        if missing:
            raise CorruptFileError(f"VGG19 weights lack or misshape {missing[:2]}; the file is "
                                   f"incomplete or not torchvision's {VGG19_FILE}")
        self.features.load_state_dict({k: state[k] for k in own})
        self.features.requires_grad_(False)
        self.features.eval()
        self.index = {n: names[n] for n in layers}
        self.data_range = float(data_range)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def train(self, mode: bool = True) -> VGG19Features:
        super().train(mode)
        self.features.eval()  # always frozen
        return self

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        elif x.shape[1] != 3:
            x = x.mean(1, keepdim=True).repeat(1, 3, 1, 1)
        mean, std = self.get_buffer("mean"), self.get_buffer("std")
        x = (x / self.data_range - mean) / std
        wanted = {i: n for n, i in self.index.items()}
        out: dict[str, torch.Tensor] = {}
        for i, layer in enumerate(list(self.features)):
            x = layer(x)
            if i in wanted:
                out[wanted[i]] = x
        return out
