"""Every model satsr ships, registered by metadata only (modules load on ``create_model``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from satsr.models._receptive import (
    conv,
    cubic,
    deconv,
    down,
    prime_factors,
    receptive_field,
    up,
    upsampler,
)
from satsr.models._registry import ModelInfo, Reference, register_model


# ---- receptive fields from the layer stacks (see satsr.models._receptive) ----
def _rf_cubic(h: Mapping[str, Any]) -> int:
    return receptive_field(h["scale"], [cubic(h["scale"])])


def _rf_srcnn(h: Mapping[str, Any]) -> int:
    return receptive_field(h["scale"], [cubic(h["scale"]),
                                        conv(h["f1"] // 2 + h["f2"] // 2 + h["f3"] // 2)])


def _rf_fsrcnn(h: Mapping[str, Any]) -> int:
    return receptive_field(h["scale"], [conv(2 + h["m"]), deconv(9, 4, h["scale"])])


def _rf_study(h: Mapping[str, Any]) -> int:
    """SRCNN up-sampling study: extract f1 -> mapping -> reconstruct f3, per framework."""
    s, f1, f3 = h["scale"], h["f1"] // 2, h["f3"] // 2
    # the inception block's widest branch is 9×9 (half-width 4), then a 1×1 fusion
    mapping = {"plain": h["f2"] // 2, "residual": 2 * h["n_blocks"], "inception": 4}[h["mapping"]]
    if h["framework"] == "pre":  # learned 9×9 transposed conv, then the layers at HR
        return receptive_field(s, [deconv(9, 4, s), conv(f1 + mapping + f3)])
    if h["framework"] == "post":
        branches = [[conv(f1 + mapping + f3), up(s)]]
        if h["mapping"] == "residual":
            branches.append([cubic(s)])
        return receptive_field(s, *branches)
    if h["framework"] == "progressive":
        stages = [conv(f1)]
        for f in prime_factors(s):
            stages += [conv(1), up(f)]
        return receptive_field(s, [*stages, conv(mapping + f3)])
    # iterative (DBPN-style): each iteration up -> down -> up; the next one starts from down(H)
    stages = [conv(f1)]
    for i in range(h["n_iter"]):
        stages += [conv(1), up(s), down(s), conv(1), up(s)]
        if i < h["n_iter"] - 1:
            stages.append(down(s))
    return receptive_field(s, [*stages, conv(f3)])


def _rf_edsr(h: Mapping[str, Any]) -> int:
    """head 3×3, n_blocks × (3×3, 3×3), 3×3, upsampler, 3×3."""
    return receptive_field(h["scale"], [conv(2 + 2 * h["n_blocks"]), *upsampler(h["scale"]),
                                        conv(1)])


def _rf_rdn(h: Mapping[str, Any]) -> int:
    """SFE1, SFE2, D blocks × C dense 3×3 (1×1 fusions), GFF 1×1 + 3×3, upsampler, 3×3."""
    return receptive_field(h["scale"], [conv(3 + h["D"] * h["C"]), *upsampler(h["scale"]),
                                        conv(1)])


def _rf_isr_rdn(h: Mapping[str, Any]) -> int:
    """ISR RDN: SFE1, SFE2, D blocks × C dense 3×3, GFF 1×1 + 3×3, then 5×5, 3×3, 3×3 at LR,
    ×s (nearest or shuffle) and the last 3×3 at HR."""
    return receptive_field(h["scale"], [conv(3 + h["D"] * h["C"] + 4), up(h["scale"]), conv(1)])


def _rf_isr_rrdn(h: Mapping[str, Any]) -> int:
    """ISR RRDN: pre 3×3, T × D × (C dense 3×3 + 3×3 fusion), post 3×3, pre-shuffle 3×3, shuffle,
    last 3×3 at HR."""
    trunk = h["T"] * h["D"] * (h["C"] + 1)
    return receptive_field(h["scale"], [conv(3 + trunk), up(h["scale"]), conv(1)])


def _rf_srvgg16(h: Mapping[str, Any]) -> int:
    """Cubic ×s (cv2, 4 taps), then at HR: f1, VGG16 blocks 1–2 (four 3×3), f2 mapping, f3."""
    return receptive_field(h["scale"], [cubic(h["scale"]),
                                        conv(h["f1"] // 2 + 4 + h["f2"] // 2 + h["f3"] // 2)])


def _rf_linear(h: Mapping[str, Any]) -> int:
    """Bilinear ×s with aligned centres: two taps per axis (±1 LR px around the parent)."""
    return receptive_field(h["scale"], [conv(1), up(h["scale"])])


def _rf_rrdn(h: Mapping[str, Any]) -> int:
    """first 3×3, n_blocks × 3 dense blocks × 5 convs, trunk 3×3, (nearest ×f, 3×3) per prime
    factor, HR 3×3, last 3×3."""
    stages = [conv(2 + 15 * h["n_blocks"])]
    for f in prime_factors(h["scale"]):
        stages += [up(f), conv(1)]
    return receptive_field(h["scale"], [*stages, conv(2)])


def _rf_wdsr(h: Mapping[str, Any]) -> int:
    """Body: head 3×3, n_blocks × one 3×3, tail 3×3; skip: one 5×5; then the shuffle."""
    s = h["scale"]
    return receptive_field(s, [conv(2 + h["n_blocks"]), up(s)], [conv(2), up(s)])


def _rf_highresnet(h: Mapping[str, Any]) -> int:
    """Encoder (2 + 2·enc_layers convs), log2(frames) fusions of 3 convs each, a kernel = stride
    = scale deconvolution and a 1×1 (the median reference is per pixel)."""
    n = 1 << max(0, ((h["num_frames"] or 16) - 1).bit_length())
    steps = max(0, n.bit_length() - 1)
    k = h["kernel"] // 2
    return receptive_field(h["scale"], [conv(k * (2 + 2 * h["enc_layers"] + 3 * steps)),
                                        deconv(h["scale"], 0, h["scale"])])


def _rf_rams(h: Mapping[str, Any]) -> int:
    """Main: head, R RFABs × 2 convs + 1, (T-3)/2 × (RFAB 2 convs + valid conv), valid conv;
    global: RTAB 2 convs + valid conv; all 3×3 in space, then the shuffle."""
    s, t = h["scale"], h["num_frames"] or 9
    main = 1 + 2 * h["n_blocks"] + 1 + 3 * ((t - 3) // 2) + 1
    return receptive_field(s, [conv(main), up(s)], [conv(3), up(s)])


def _rf_wdsr3d(h: Mapping[str, Any], *, mean_convs: int = 3, frames: int = 9) -> int:
    """Main: head, n_blocks × one 3×3×3, (T-3)/2 temporal reducers, the up conv (all 3×3 in
    space); mean branch: three (EnhanceMe) or two (Dorr) 3×3; then the shuffle."""
    s, t = h["scale"], h["num_frames"] or frames
    main = 1 + h["n_blocks"] + (t - 3) // 2 + 1
    return receptive_field(s, [conv(main), up(s)], [conv(mean_convs), up(s)])


def _rf_wdsr3d_dorr(h: Mapping[str, Any]) -> int:
    return _rf_wdsr3d(h, mean_convs=2, frames=7)


register_model(ModelInfo(
    name="bicubic",
    reference=Reference("Keys (1981) cubic convolution, a = -0.5, as the PROBA-V organisers' baseline code", "https://kelvins.esa.int/proba-v-super-resolution/scoring/"),
    entrypoint="satsr.models.baselines:bicubic",
    rf=_rf_cubic, global_context=True,
    kind="baseline",
    paper="Keys, Cubic convolution interpolation for digital image processing",
    year=1981,
    url="https://doi.org/10.1109/TASSP.1981.1163711",
    description="Clearest LR frame, Keys cubic convolution (a=-0.5), clipped to its range.",
    learned=False,
))
register_model(ModelInfo(
    name="bilinear",
    reference=Reference("Müller et al. (2020), the up-sampling study's bilinear baseline", "https://doi.org/10.5194/isprs-annals-V-1-2020-33-2020"),
    entrypoint="satsr.models.baselines:bilinear",
    rf=_rf_linear, global_context=True,
    kind="baseline",
    paper="Müller et al., Super-resolution of multispectral satellite images using CNNs",
    year=2020,
    url="https://doi.org/10.5194/isprs-annals-V-1-2020-33-2020",
    description="Clearest LR frame, bilinear interpolation (centres aligned, edges clamped): "
                "the up-sampling study's interpolation baseline.",
    learned=False,
))
register_model(ModelInfo(
    name="mean-bicubic",
    reference=Reference("PROBA-V organisers' baseline (Märtens et al. 2019; reproduces norm.csv exactly)", "https://kelvins.esa.int/proba-v-super-resolution/scoring/"),
    entrypoint="satsr.models.baselines:mean_bicubic",
    multi_frame=True,
    rf=_rf_cubic, global_context=True,
    kind="baseline",
    paper="Märtens et al., Super-resolution of PROBA-V images using convolutional neural networks",
    year=2019,
    url="https://doi.org/10.1007/s42064-019-0059-8",
    description="PROBA-V organisers' baseline: mean of the Keys-cubic upscaled frames tied for "
                "the most clear pixels, each clipped to its own range.",
    learned=False,
))

# ---- single-image networks (adapted to frame stacks by SingleImageSR: clearest/mean/stack) ----
_SMALL_EDSR_BASELINE = {"n_blocks": 3, "features": 32, "res_scale": 1.0}
# EDSR proper differs from its baseline by depth/width and residual scaling 0.1; the small
# preset keeps the scaling and is a little deeper, so the two stay distinct models.
_SMALL_EDSR = {"n_blocks": 4, "features": 30, "res_scale": 0.1}

register_model(ModelInfo(
    name="srcnn",
    reference=Reference("Dong et al. TPAMI 2016, SRCNN 9-1-5 (n1 64, n2 32)", "https://arxiv.org/abs/1501.00092"),
    entrypoint="satsr.models.srcnn:srcnn",
    rf=_rf_srcnn,
    kind="single",
    paper="Dong et al., Image Super-Resolution Using Deep Convolutional Networks",
    year=2016,
    url="https://arxiv.org/abs/1501.00092",
    description="SRCNN 9-1-5 (64/32 filters) on the Keys-cubic pre-upsampled LR image; "
                "preset '955' gives 9-5-5.",
    defaults={"f1": 9, "f2": 1, "f3": 5, "n1": 64, "n2": 32},
    presets={"small": {}, "955": {"f2": 5}},
))
register_model(ModelInfo(
    name="srcnn-ex",
    reference=Reference("Dong et al. TPAMI 2016, SRCNN-Ex 9-5-5 (FSRCNN paper, Table 3)", "https://arxiv.org/abs/1501.00092"),
    entrypoint="satsr.models.srcnn:srcnn",
    rf=_rf_srcnn,
    kind="single",
    paper="Dong et al., Image Super-Resolution Using Deep Convolutional Networks",
    year=2016,
    url="https://arxiv.org/abs/1501.00092",
    description="SRCNN-Ex: the 9-5-5 SRCNN (64/32 filters, 57,184 weights) trained on ImageNet "
                "in the TPAMI paper; pre-upsampling.",
    defaults={"f1": 9, "f2": 5, "f3": 5, "n1": 64, "n2": 32},
    presets={"small": {}},
))
register_model(ModelInfo(
    name="fsrcnn",
    reference=Reference("Dong et al. ECCV 2016, FSRCNN(56, 12, 4)", "https://arxiv.org/abs/1608.00367"),
    entrypoint="satsr.models.fsrcnn:fsrcnn",
    rf=_rf_fsrcnn,
    kind="single",
    paper="Dong et al., Accelerating the Super-Resolution Convolutional Neural Network",
    year=2016,
    url="https://arxiv.org/abs/1608.00367",
    description="FSRCNN(56, 12, 4): hourglass CNN on the LR image, PReLU, 9×9 deconvolution "
                "with stride = scale.",
    defaults={"d": 56, "s": 12, "m": 4},
    presets={"small": {}},
))

_STUDY = "Müller et al., Super-resolution of multispectral satellite images using CNNs"
_STUDY_URL = "https://doi.org/10.5194/isprs-annals-V-1-2020-33-2020"
for _name, _fw, _map, _desc in (
    ("srcnn-pre", "pre", "plain",
     "learned pre-upsampling (9×9 transposed conv, then 9-5-5 layers at HR)"),
    ("srcnn-post", "post", "plain", "post-upsampling (layers at LR, sub-pixel convolution)"),
    ("srcnn-progressive", "progressive", "plain",
     "progressive up-sampling (one learned sub-pixel stage per prime factor of the scale)"),
    ("srcnn-iterative", "iterative", "plain",
     "iterative up-and-down sampling (DBPN-style back-projection units)"),
    ("srcnn-residual", "post", "residual",
     "post-upsampling with residual blocks and a global residual to Keys cubic"),
    ("srcnn-inception", "post", "inception", "post-upsampling with a 9/5/3/1 inception mapping block"),
):
    register_model(ModelInfo(
        name=_name,
        reference=Reference("Müller et al. (2020), SRCNN up-sampling study",
                            _STUDY_URL, interpretation=True),
        entrypoint="satsr.models.upsampling_study:upsampling_srcnn",
        rf=_rf_study,
        kind="single",
        paper=_STUDY,
        year=2020,
        url=_STUDY_URL,
        description=f"SRCNN up-sampling study variant: {_desc} (our interpretation).",
        defaults={"framework": _fw, "mapping": _map, "f1": 9, "f2": 5, "f3": 5, "n1": 64,
                  "n2": 32, "n_blocks": 2, "n_iter": 2},
        # the iterative variant's ×s sub-pixel convs grow with s²: narrower mapping features
        presets={"small": {"n1": 32, "n2": 12 if _fw == "iterative" else 16}},
    ))

register_model(ModelInfo(
    name="edsr",
    reference=Reference("EDSR-PyTorch src/model/edsr.py (EDSR, 32 blocks, 256 features)", "https://github.com/sanghyun-son/EDSR-PyTorch/blob/master/src/model/edsr.py", scale=4, in_channels=3),
    entrypoint="satsr.models.edsr:edsr",
    rf=_rf_edsr,
    kind="single",
    paper="Lim et al., Enhanced Deep Residual Networks for Single Image Super-Resolution",
    year=2017,
    url="https://arxiv.org/abs/1707.02921",
    description="EDSR: 32 residual blocks, 256 features, residual scaling 0.1, sub-pixel "
                "upsampling (no MeanShift).",
    defaults={"n_blocks": 32, "features": 256, "res_scale": 0.1},
    presets={"small": _SMALL_EDSR},
))
register_model(ModelInfo(
    name="edsr-baseline",
    reference=Reference("EDSR-PyTorch src/model/edsr.py (baseline, 16 blocks, 64 features)", "https://github.com/sanghyun-son/EDSR-PyTorch/blob/master/src/model/edsr.py", scale=2, in_channels=3),
    entrypoint="satsr.models.edsr:edsr",
    rf=_rf_edsr,
    kind="single",
    paper="Lim et al., Enhanced Deep Residual Networks for Single Image Super-Resolution",
    year=2017,
    url="https://arxiv.org/abs/1707.02921",
    description="EDSR baseline: 16 residual blocks, 64 features, no residual scaling.",
    defaults={"n_blocks": 16, "features": 64, "res_scale": 1.0},
    presets={"small": _SMALL_EDSR_BASELINE},
))
_ISR = "https://github.com/idealo/image-super-resolution"
register_model(ModelInfo(
    name="rdn",
    reference=Reference("ISR ISR/models/rdn.py, C6-D20-G64-G0 64, upscaling 'ups' (ISR's large weights)", "https://github.com/idealo/image-super-resolution/blob/master/ISR/models/rdn.py", scale=2, in_channels=3),
    entrypoint="satsr.models.rdn:rdn",
    rf=_rf_isr_rdn,
    kind="single",
    paper="Zhang et al., Residual Dense Network for Image Super-Resolution (ISR implementation)",
    year=2018,
    url=_ISR,
    description="RDN as in ISR (idealo image-super-resolution): residual dense trunk, ISR's "
                "5×5/3×3 upsampling head and nearest-neighbour ('ups') or pixel-shuffle "
                "upscaling; default C6-D20-G64-G0 64 (ISR's large weights).",
    defaults={"C": 6, "D": 20, "G": 64, "G0": 64, "upscaling": "ups"},
    presets={"small": {"C": 3, "D": 3, "G": 16, "G0": 16}},
))
register_model(ModelInfo(
    name="rdn-paper",
    reference=Reference("EDSR-PyTorch src/model/rdn.py, configuration B (D16 C8 G64)", "https://github.com/sanghyun-son/EDSR-PyTorch/blob/master/src/model/rdn.py", scale=4, in_channels=3),
    entrypoint="satsr.models.rdn:rdn_paper",
    rf=_rf_rdn,
    kind="single",
    paper="Zhang et al., Residual Dense Network for Image Super-Resolution",
    year=2018,
    url="https://arxiv.org/abs/1802.08797",
    description="RDN as published (EDSR-PyTorch upsampler): 16 residual dense blocks of 8 "
                "layers, growth 64, 64 features, global feature fusion, sub-pixel upsampling.",
    defaults={"D": 16, "C": 8, "G": 64, "G0": 64},
    presets={"small": {"D": 4, "C": 4, "G": 16, "G0": 16}},
))
register_model(ModelInfo(
    name="rrdn",
    reference=Reference("ISR ISR/models/rrdn.py, C4-D3-G32-G0 32-T10 (ISR's GAN weights)", "https://github.com/idealo/image-super-resolution/blob/master/ISR/models/rrdn.py", scale=4, in_channels=3),
    entrypoint="satsr.models.rrdn:rrdn",
    rf=_rf_isr_rrdn, adversarial=True,
    kind="single",
    paper="Wang et al., ESRGAN (ISR's RRDN implementation)",
    year=2018,
    url=_ISR,
    description="RRDN as in ISR: T residual-in-residual blocks of D dense blocks (C ReLU "
                "layers, growth G, 3×3 fusion), beta-scaled residuals, pixel-shuffle "
                "upscaling; default C4-D3-G32-G0 32-T10 (ISR's GAN weights).",
    defaults={"C": 4, "D": 3, "G": 32, "G0": 32, "T": 10, "beta": 0.2},
    presets={"small": {"C": 3, "D": 2, "G": 16, "G0": 16, "T": 2}},
))
register_model(ModelInfo(
    name="rrdbnet",
    reference=Reference("BasicSR basicsr/archs/rrdbnet_arch.py (ESRGAN, 23 RRDB)", "https://github.com/XPixelGroup/BasicSR/blob/master/basicsr/archs/rrdbnet_arch.py", scale=4, in_channels=3),
    entrypoint="satsr.models.rrdbnet:rrdbnet",
    rf=_rf_rrdn, adversarial=True,
    kind="single",
    paper="Wang et al., ESRGAN: Enhanced Super-Resolution Generative Adversarial Networks",
    year=2018,
    url="https://github.com/XPixelGroup/BasicSR/blob/master/basicsr/archs/rrdbnet_arch.py",
    description="ESRGAN generator (BasicSR RRDBNet): 23 residual-in-residual dense blocks (64 "
                "features, growth 32, scaling 0.2), nearest-neighbour + conv upsampling.",
    defaults={"n_blocks": 23, "features": 64, "growth": 32, "res_scale": 0.2},
    presets={"small": {"n_blocks": 2, "features": 16, "growth": 8}},
))
register_model(ModelInfo(
    name="srgan",
    reference=Reference("SRGAN with an EDSR-baseline generator (no batch norm; Ledig et al. used SRResNet)", "https://arxiv.org/abs/1609.04802", interpretation=True),
    entrypoint="satsr.models.srgan:srgan",
    rf=_rf_edsr, adversarial=True,
    kind="single",
    paper="Ledig et al., Photo-Realistic Single Image Super-Resolution Using a GAN",
    year=2017,
    url="https://arxiv.org/abs/1609.04802",
    description="SRGAN generator (EDSR-baseline body, 16 blocks, 64 features); the VGG-style "
                "discriminator is satsr.models.srgan.Discriminator.",
    defaults={"n_blocks": 16, "features": 64, "res_scale": 1.0},
    presets={"small": _SMALL_EDSR_BASELINE},
))
register_model(ModelInfo(
    name="wdsr",
    reference=Reference("WDSR-B of Yu et al. (JiahuiYu/wdsr_ntire2018)", "https://github.com/JiahuiYu/wdsr_ntire2018"),
    entrypoint="satsr.models.wdsr:wdsr",
    rf=_rf_wdsr,
    kind="single",
    paper="Yu et al., Wide Activation for Efficient and Accurate Image Super-Resolution",
    year=2018,
    url="https://arxiv.org/abs/1808.08718",
    description="WDSR-B: 16 wide-activation blocks (32 features, ×6 expansion, 0.8 low-rank), "
                "weight normalisation, pixel shuffle, 5×5 skip branch.",
    defaults={"n_blocks": 16, "features": 32, "expansion": 6, "low_rank": 0.8,
              "res_scale": 1.0},
    presets={"small": {"n_blocks": 8, "features": 24, "expansion": 4}},
))

# ---- native multi-frame networks ----
register_model(ModelInfo(
    name="highres-net",
    reference=Reference("ElementAI HighRes-net (src/DeepNetworks/HRNet.py, 16 frames)", "https://github.com/ElementAI/HighRes-net"),
    entrypoint="satsr.models.highresnet:highresnet",
    rf=_rf_highresnet,
    kind="multi",
    paper="Deudon et al., HighRes-net: Recursive Fusion for Multi-Frame Super-Resolution of "
          "Satellite Imagery",
    year=2020,
    url="https://arxiv.org/abs/2002.06460",
    description="Shared encoder of (frame, median reference) pairs, recursive pairwise fusion, "
                "deconvolution decoder; 591,818 parameters as published (16 frames).",
    defaults={"channels": 64, "enc_layers": 2, "kernel": 3},
    presets={"small": {"channels": 30}},
))
register_model(ModelInfo(
    name="rams",
    reference=Reference("EscVM RAMS (utils/network.py, F 32, R 12, T 9)", "https://github.com/EscVM/RAMS"),
    entrypoint="satsr.models.rams:rams",
    rf=_rf_rams, global_context=True,
    kind="multi",
    paper="Salvetti et al., Multi-Image Super Resolution of Remotely Sensed Images Using "
          "Residual Attention Deep Neural Networks",
    year=2020,
    url="https://doi.org/10.3390/rs12142207",
    description="3D residual feature-attention blocks, temporal reduction and a temporal-"
                "attention global residual branch (F=32, R=12, T=9).",
    defaults={"features": 32, "n_blocks": 12, "reduction": 8},
    presets={"small": {"features": 16, "n_blocks": 3, "reduction": 4}},
))
register_model(ModelInfo(
    name="wdsr3d",
    reference=Reference("EnhanceMe models/modelsTF.py WDSRConv3D (R 12, F 32, expansion 8, T 9)", "https://github.com/mmbajo/PROBA-V"),
    entrypoint="satsr.models.wdsr3d:wdsr3d",
    rf=_rf_wdsr3d,
    kind="multi",
    paper="Bajo, EnhanceMe: 3D wide-activation SR for PROBA-V (post-mortem #2, 0.9416)",
    year=2020,
    url="https://github.com/mmbajo/PROBA-V",
    description="3D-WDSR as in EnhanceMe: 12 3D WDSR-B blocks (F 32, expansion 8, decay 0.8), "
                "valid temporal reducers, three-conv mean-image path, pixel shuffle (T=9).",
    defaults={"features": 32, "n_blocks": 12, "expansion": 8, "low_rank": 0.8},
    presets={"small": {"features": 16, "n_blocks": 4, "expansion": 4}},
))
register_model(ModelInfo(
    name="wdsr3d-dorr",
    reference=Reference("Dorr 3DWDSRNet WDSR3D/network.py, run 32-8-6-7", "https://github.com/frandorr/3DWDSRNet"),
    entrypoint="satsr.models.wdsr3d:wdsr3d_dorr",
    rf=_rf_wdsr3d_dorr,
    kind="multi",
    paper="Dorr, Satellite Image Multi-Frame Super Resolution Using 3D Wide-Activation "
          "Neural Networks",
    year=2020,
    url="https://doi.org/10.3390/rs12223812",
    description="3D-WDSR as in Dorr's 3DWDSRNet: run 32-8-6-7 (F 32, 8 blocks, expansion 6, "
                "T=7), size-keeping reflection pads, two-conv mean-image path.",
    defaults={"features": 32, "n_blocks": 8, "expansion": 6, "low_rank": 0.8},
    presets={"small": {"features": 24, "n_blocks": 4, "expansion": 4}},
))
register_model(ModelInfo(
    name="srvgg16",
    reference=Reference("Shiro-LK Super-Resolution-ProbaV model.py SRVGG16 (k 9, LR & QM "
                        "concatenated, clear-map output)",
                        "https://github.com/Shiro-LK/Super-Resolution-ProbaV"),
    entrypoint="satsr.models.srvgg16:srvgg16",
    rf=_rf_srvgg16,
    kind="multi",
    paper="Shiro-LK, Super Resolution Proba V Kelvins: SRCNN with VGG16 blocks (validation "
          "0.98886, test 0.984)",
    year=2019,
    url="https://github.com/Shiro-LK/Super-Resolution-ProbaV",
    description="SR-VGG16: SRCNN 9×9 → VGG16 blocks 1–2 (64, 128) → 5×5 mapping → 5×5 sigmoid "
                "output on the cv2-bicubic upscaled 9 clearest frames and their masks; a second "
                "output channel predicts the HR clear map for the training loss.",
    defaults={"inputs": "concat", "f1": 9, "n1": 64, "b1": 64, "b2": 128, "n2": 32, "f2": 5,
              "f3": 5, "clear_head": True, "clear_weight": 0.5},
    presets={"small": {"n1": 32, "b1": 32, "b2": 48, "n2": 16}},
))
