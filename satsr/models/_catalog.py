"""Every model satsr ships, registered by metadata only (modules load on ``create_model``)."""

from __future__ import annotations

from satsr.models._registry import ModelInfo, register_model

register_model(ModelInfo(
    name="bicubic",
    entrypoint="satsr.models.baselines:bicubic",
    kind="baseline",
    paper="Keys, Cubic convolution interpolation for digital image processing",
    year=1981,
    url="https://doi.org/10.1109/TASSP.1981.1163711",
    description="Clearest LR frame, Keys cubic convolution (a=-0.5), clipped to its range.",
    learned=False,
))
register_model(ModelInfo(
    name="mean-bicubic",
    entrypoint="satsr.models.baselines:mean_bicubic",
    kind="baseline",
    paper="Märtens et al., Super-resolution of PROBA-V images using convolutional neural networks",
    year=2019,
    url="https://doi.org/10.1007/s42064-019-0059-8",
    description="PROBA-V organisers' baseline: mean of the Keys-cubic upscaled frames tied for "
                "the most clear pixels, each clipped to its own range.",
    learned=False,
))
