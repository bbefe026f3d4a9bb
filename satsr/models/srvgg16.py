"""SR-VGG16: SRCNN with VGG16's first two convolution blocks as feature extractor, fed the k
clearest LR frames (and their quality masks) stacked as channels — the PROBA-V entry of
Shiro-LK (https://github.com/Shiro-LK/Super-Resolution-ProbaV, ``model.py`` ``SRVGG16``;
inputs from ``functions.py``/``generator.py`` "version 4"; loss ``custom_loss``). Its notebook
reports validation 0.98886 and test 0.984 for "SRCNN - VGG16, multi image, concat LR & QM",
k = 9: the best network of that repository.

Network (Keras 'same' convolutions, ReLU): 9×9 conv to 64, VGG16 block 1 (two 3×3 convs, 64),
VGG16 block 2 (two 3×3 convs, 128; no pooling), 5×5 conv to 32 ("mapping"), 5×5 output conv
with a sigmoid. The input is the pre-upsampled stack (pre-upsampling SRCNN): the k clearest
frames, then their k masks ("concat", the reference entry), only the frames ("lr") or the
frames multiplied by their masks ("combine"), upscaled ×s with OpenCV's bicubic
(``cv2.INTER_CUBIC``: Keys convolution with a = −0.75, pixel centres aligned, edges clamped —
the masks too, as the reference resizes the whole stack). Frames: most clear pixels first,
repeated cyclically when a scene has fewer than k (the reference's top-k; ties go to the lower
frame index here, to NumPy's sort order there).

"Multi output": the output conv also predicts the HR clear map (a second sigmoid channel);
the reference trains with ``N / cPSNR + 0.5 · BCE(SM, predicted SM)`` where cPSNR is computed
from the brightness-bias-corrected MSE over clear HR pixels of the whole patch (no shift
search: ``--loss ncpsnr --loss-option border=0``). With ``clear_head`` (default, as the entry)
the head's cross-entropy is returned by :meth:`SRVGG16.auxiliary_loss` and ``satsr train`` adds
it (weight ``clear_weight``); prediction returns the SR channel(s) only. 492,706 parameters
for one band at k = 9 with the clear head (491,905 without).

Changed: several bands give C output channels plus one clear channel; the weights start from
Glorot-uniform with zero biases (Keras' defaults). The sigmoid bounds SR values to (0, 1), the
data's own value scale (PROBA-V /65535, reflectance): ``satsr train``'s input standardisation
(``normalise``) applies to the LR frames only, never to the output; the reference feeds raw
values (``normalise: false``, as its seed recipe).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import nn
from torch.nn import functional as F

from satsr.defaults import DEFAULT_SCALE
from satsr.errors import ConfigError
from satsr.models.base import SingleImageSR
from satsr.models.layers import conv2d
from satsr.resample import upscale_cubic

Inputs = Literal["concat", "lr", "combine"]
INPUTS: tuple[str, ...] = ("concat", "lr", "combine")
#: OpenCV's INTER_CUBIC coefficient (the reference pre-upsamples with cv2.resize)
CV2_CUBIC_A = -0.75


class SRVGG16(SingleImageSR):
    """Pre-upsampling SRCNN with VGG16 blocks 1–2 on the k clearest frames (+ masks)."""

    multi_frame = True
    #: sigmoid output on the data's value scale: input standardisation only (no output affine)
    bounded_output = True

    def __init__(self, scale: int, in_channels: int, *, num_frames: int = 9,
                 inputs: Inputs = "concat", f1: int = 9, n1: int = 64, b1: int = 64,
                 b2: int = 128, n2: int = 32, f2: int = 5, f3: int = 5,
                 clear_head: bool = True, clear_weight: float = 0.5) -> None:
        if inputs not in INPUTS:
            raise ConfigError(f"srvgg16: unknown inputs {inputs!r}; choose one of "
                              f"{list(INPUTS)} (the reference entry uses concat)")
        if int(num_frames) != num_frames or num_frames < 1:
            raise ConfigError(f"srvgg16 needs num_frames >= 1 (got {num_frames}); the "
                              "reference stacks the 9 clearest frames")
        for key, value in (("f1", f1), ("f2", f2), ("f3", f3)):
            if int(value) != value or value < 1 or value % 2 == 0:
                raise ConfigError(f"srvgg16: {key} must be an odd kernel size, got {value}")
        if not clear_weight >= 0:
            raise ConfigError(f"srvgg16: clear_weight must be >= 0, got {clear_weight}")
        super().__init__(scale, in_channels, adapter="stack", k=int(num_frames),
                         with_masks=inputs == "concat", combine=inputs == "combine")
        self.num_frames = int(num_frames)
        self.clear_head = bool(clear_head)
        self.clear_weight = float(clear_weight)
        out = in_channels + (1 if self.clear_head else 0)
        self.body = nn.Sequential(
            conv2d(self.net_in_channels, n1, f1), nn.ReLU(inplace=True),
            conv2d(n1, b1, 3), nn.ReLU(inplace=True),  # VGG16 block1_conv1
            conv2d(b1, b1, 3), nn.ReLU(inplace=True),  # block1_conv2
            conv2d(b1, b2, 3), nn.ReLU(inplace=True),  # block2_conv1
            conv2d(b2, b2, 3), nn.ReLU(inplace=True),  # block2_conv2
            conv2d(b2, n2, f2), nn.ReLU(inplace=True),  # mapping
            conv2d(n2, out, f3),  # output (sigmoid below)
        )
        for m in self.body:
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)
                assert m.bias is not None
                nn.init.zeros_(m.bias)
        self._clear_logits: torch.Tensor | None = None

    def forward_image(self, x: torch.Tensor) -> torch.Tensor:
        up = upscale_cubic(x, self.scale, a=CV2_CUBIC_A).to(x.dtype)
        out: torch.Tensor = self.body(up)
        c = self.in_channels
        # keep the clear-map logits for the training loss only (no memory held at inference)
        self._clear_logits = out[:, c:] if self.clear_head and self.training else None
        return torch.sigmoid(out[:, :c])

    def auxiliary_loss(self, hr_mask: torch.Tensor) -> torch.Tensor | None:
        """``clear_weight`` × binary cross-entropy between the predicted clear map of the last
        training forward and ``hr_mask`` (B, H, W) bool; None without the clear head."""
        logits, self._clear_logits = self._clear_logits, None
        if logits is None or self.clear_weight == 0:
            return None
        dtype = torch.promote_types(logits.dtype, torch.float32)  # float32 under autocast
        bce = F.binary_cross_entropy_with_logits(logits.to(dtype),
                                                 hr_mask.to(dtype).unsqueeze(1))
        return self.clear_weight * bce


def srvgg16(*, scale: int = DEFAULT_SCALE, in_channels: int = 1, num_frames: int | None = None,
            **hparams: Any) -> SRVGG16:
    """Factory for ``srvgg16`` (hyper-parameters: inputs, f1, n1, b1, b2, n2, f2, f3,
    clear_head, clear_weight; ``num_frames`` = k, 9 when not given)."""
    return SRVGG16(scale, in_channels, num_frames=num_frames or 9, **hparams)
