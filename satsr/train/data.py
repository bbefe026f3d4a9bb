"""Training data: sample-schema scenes in memory, random aligned LR/HR patches, augmentation.

A :class:`SceneTensors` holds every scene of a split as CPU tensors (the sample and PROBA-V fit
in memory). :class:`PatchSampler` draws batches of random LR patches of ``patch`` px with the
aligned HR patch of ``scale·patch`` px, then augments them with the same flip / 90° rotation on
LR, masks and HR (the LR and HR pixel grids nest, so these keep them aligned) and a random
permutation of the frames. Every random draw comes from one ``torch.Generator``, whose state is
saved in checkpoints so a resumed run draws the same batches as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
import torch.nn.functional as F
import xarray as xr

from satsr.batch import Batch, batch_from_dataset
from satsr.errors import ConfigError
from satsr.frames import gather_frames, topk_indices


@dataclass
class SceneTensors:
    """All scenes of one split: ``lr`` (S, T, C, h, w), ``lr_mask`` (S, T, h, w),
    ``frame_valid`` (S, T), ``hr`` (S, C, H, W), ``hr_mask`` (S, H, W); value scale unchanged."""

    lr: torch.Tensor
    lr_mask: torch.Tensor
    frame_valid: torch.Tensor
    hr: torch.Tensor
    hr_mask: torch.Tensor
    scale: int
    bands: list[str]
    data_range: float
    value_scale: str
    dataset: str
    #: the dataset's identity for reproducibility (e.g. generator, sample_version, seed)
    data_version: dict[str, Any] = field(default_factory=dict)
    #: the dataset's ``lr_sensor``/``hr_sensor`` attributes (recorded in weights sidecars)
    lr_sensor: str = ""
    hr_sensor: str = ""
    #: per-scene ``norm`` (S,) float64 (PROBA-V baseline cPSNR) when every group has one
    norm: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.lr.shape[0])

    @property
    def has_masks(self) -> bool:
        """True when some HR pixel is concealed (PROBA-V style); all-clear data has no masks."""
        return bool((~self.hr_mask).any())

    def batch(self, index: Sequence[int] | torch.Tensor) -> Batch:
        """Whole scenes ``index`` as a :class:`Batch`."""
        idx = torch.as_tensor(index, dtype=torch.long)
        return Batch(lr=self.lr[idx], lr_mask=self.lr_mask[idx],
                     frame_valid=self.frame_valid[idx], hr=self.hr[idx],
                     hr_mask=self.hr_mask[idx])


def _pad_frames(b: Batch, t: int) -> Batch:
    extra = t - b.lr.shape[1]
    if extra <= 0:
        return b
    lr = F.pad(b.lr, (0, 0, 0, 0, 0, 0, 0, extra))
    lr_mask = F.pad(b.lr_mask, (0, 0, 0, 0, 0, extra))
    valid = F.pad(b.frame_valid, (0, extra))
    return Batch(lr=lr, lr_mask=lr_mask, frame_valid=valid, hr=b.hr, hr_mask=b.hr_mask)


def scenes_from_datasets(datasets: Sequence[xr.Dataset]) -> SceneTensors:
    """Load one or more sample-schema datasets (e.g. RED and NIR stores) as pooled scenes.

    Several band groups with the same band count, scale and LR size are pooled: each scene of
    each group becomes one training scene (a band-agnostic model). Frame counts may differ
    (shorter groups are padded with invalid frames).
    """
    if not datasets:
        raise ConfigError("no dataset to train on")
    first = datasets[0]
    batches = []
    bands: list[str] = []
    for ds in datasets:
        if int(ds.attrs["scale"]) != int(first.attrs["scale"]):
            raise ConfigError("band groups have different scales; pass --band to pick one")
        if ds.sizes["band"] != first.sizes["band"] or ds.sizes["y"] != first.sizes["y"] \
                or ds.sizes["x"] != first.sizes["x"]:
            raise ConfigError("band groups have different band counts or sizes; pass --band "
                              "to pick one")
        batches.append(batch_from_dataset(ds))
        bands += [str(b) for b in ds["band"].values if str(b) not in bands]
    t = max(b.lr.shape[1] for b in batches)
    batches = [_pad_frames(b, t) for b in batches]
    norm = (torch.cat([torch.as_tensor(ds["norm"].values, dtype=torch.float64)
                       for ds in datasets]) if all("norm" in ds for ds in datasets) else None)
    assert all(b.hr is not None and b.hr_mask is not None for b in batches)
    return SceneTensors(
        lr=torch.cat([b.lr for b in batches]),
        lr_mask=torch.cat([b.lr_mask for b in batches]),
        frame_valid=torch.cat([b.frame_valid for b in batches]),
        hr=torch.cat([b.hr for b in batches]),  # type: ignore[misc]
        hr_mask=torch.cat([b.hr_mask for b in batches]),  # type: ignore[misc]
        scale=int(first.attrs["scale"]),
        bands=bands,
        data_range=float(first.attrs["data_range"]),
        value_scale=str(first.attrs["value_scale"]),
        dataset=str(first.attrs["dataset"]),
        data_version=data_version(first),
        lr_sensor=str(first.attrs.get("lr_sensor", "")),
        hr_sensor=str(first.attrs.get("hr_sensor", "")),
        norm=norm,
    )


def frame_clear_fraction(scenes: SceneTensors) -> torch.Tensor:
    """(S, T) share of clear LR pixels of each frame (0 for invalid frames)."""
    return scenes.lr_mask.float().mean(dim=(-2, -1)) * scenes.frame_valid


def drop_cloudy_frames(scenes: SceneTensors, min_clear: float) -> SceneTensors:
    """Mark LR frames whose clear share is below ``min_clear`` (0..1) invalid, before frame
    selection (EnhanceMe / PROBA-V practice); each scene keeps at least its clearest frame."""
    if not 0 <= min_clear <= 1:
        raise ConfigError(f"--min-clear must be a clear fraction in 0..1, got {min_clear}")
    if min_clear == 0:
        return scenes
    frac = frame_clear_fraction(scenes)
    keep = scenes.frame_valid & (frac >= min_clear)
    best = frac.argmax(dim=1)
    rows = torch.arange(len(scenes))
    keep[rows, best] |= scenes.frame_valid[rows, best]
    return replace(scenes, frame_valid=keep)


#: Provenance keys that identify a dataset's content (recorded in weights sidecars).
VERSION_KEYS = ("generator", "sample_version", "seed", "satsr_version", "root")


def data_version(ds: xr.Dataset) -> dict[str, Any]:
    """The few provenance entries that identify ``ds``'s content (not the full provenance)."""
    from satsr.schema import provenance

    prov = provenance(ds)
    return {k: prov[k] for k in VERSION_KEYS if k in prov}


def augment(batch: Batch, generator: torch.Generator, *, permute_frames: bool = True) -> Batch:
    """Random flip + 90° rotation per sample (same on LR, masks and HR) and frame permutation."""
    assert batch.hr is not None and batch.hr_mask is not None
    lr, lr_mask, valid = batch.lr.clone(), batch.lr_mask.clone(), batch.frame_valid.clone()
    hr, hr_mask = batch.hr.clone(), batch.hr_mask.clone()
    n, t = lr.shape[:2]
    flips = torch.randint(0, 2, (n,), generator=generator)
    rots = torch.randint(0, 4, (n,), generator=generator)
    perms = torch.stack([torch.randperm(t, generator=generator) for _ in range(n)])
    for i in range(n):
        k, f = int(rots[i]), bool(flips[i])

        def tf(x: torch.Tensor, k: int = k, f: bool = f) -> torch.Tensor:
            x = torch.flip(x, dims=(-1,)) if f else x
            return torch.rot90(x, k, dims=(-2, -1)) if k else x

        lr[i], lr_mask[i], hr[i], hr_mask[i] = tf(lr[i]), tf(lr_mask[i]), tf(hr[i]), tf(hr_mask[i])
        if permute_frames and t > 1:
            p = perms[i]
            lr[i], lr_mask[i], valid[i] = lr[i][p], lr_mask[i][p], valid[i][p]
    return Batch(lr=lr, lr_mask=lr_mask, frame_valid=valid, hr=hr, hr_mask=hr_mask)


class PatchSampler:
    """Random aligned patches: LR ``patch``×``patch`` with HR ``scale·patch`` (same origin).

    ``frames`` keeps the K clearest valid frames of each scene (None = all frames). Patches
    whose HR has a clear share below ``min_clear``, or whose (selected, valid) LR frames have a
    mean clear share below ``min_clear_lr`` (EnhanceMe used 0.85 for both), are redrawn, at
    most ``redraws`` times (then kept: a batch never stalls).
    """

    def __init__(self, scenes: SceneTensors, *, patch: int, batch_size: int,
                 frames: int | None = None, augment: bool = True, min_clear: float = 0.3,
                 min_clear_lr: float = 0.0, redraws: int = 3,
                 generator: torch.Generator | None = None) -> None:
        h, w = scenes.lr.shape[-2:]
        if patch < 1 or patch > min(h, w):
            raise ConfigError(f"--patch {patch} does not fit LR images of {h}x{w} px; use "
                              f"1..{min(h, w)}")
        if batch_size < 1:
            raise ConfigError(f"--batch must be at least 1, got {batch_size}")
        self.scenes, self.patch, self.batch_size = scenes, int(patch), int(batch_size)
        for flag, value in (("--patch-min-clear-hr", min_clear),
                            ("--patch-min-clear-lr", min_clear_lr)):
            if not 0 <= value <= 1:
                raise ConfigError(f"{flag} must be a clear fraction in 0..1, got {value}")
        self.augment, self.min_clear = augment, float(min_clear)
        self.min_clear_lr, self.redraws = float(min_clear_lr), int(redraws)
        self.generator = generator or torch.Generator().manual_seed(0)
        self.frame_idx: torch.Tensor | None = None
        if frames is not None:
            if frames < 1:
                raise ConfigError(f"--frames must be at least 1, got {frames}")
            self.frame_idx = topk_indices(scenes.lr_mask, scenes.frame_valid, int(frames))

    def _crop(self, index: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor) -> Batch:
        s, p = self.scenes.scale, self.patch
        sc = self.scenes
        lr, lm, hr, hm = [], [], [], []
        for i, y, x in zip(index.tolist(), ys.tolist(), xs.tolist(), strict=True):
            lr.append(sc.lr[i, :, :, y:y + p, x:x + p])
            lm.append(sc.lr_mask[i, :, y:y + p, x:x + p])
            hr.append(sc.hr[i, :, s * y:s * (y + p), s * x:s * (x + p)])
            hm.append(sc.hr_mask[i, s * y:s * (y + p), s * x:s * (x + p)])
        b = Batch(lr=torch.stack(lr), lr_mask=torch.stack(lm),
                  frame_valid=sc.frame_valid[index], hr=torch.stack(hr), hr_mask=torch.stack(hm))
        if self.frame_idx is not None:
            idx = self.frame_idx[index]
            b = Batch(lr=gather_frames(b.lr, idx), lr_mask=gather_frames(b.lr_mask, idx),
                      frame_valid=gather_frames(b.frame_valid, idx), hr=b.hr, hr_mask=b.hr_mask)
        return b

    def sample(self) -> Batch:
        """One random batch (CPU tensors)."""
        g, sc, p = self.generator, self.scenes, self.patch
        h, w = sc.lr.shape[-2:]
        index = torch.randint(0, len(sc), (self.batch_size,), generator=g)
        ys = torch.randint(0, h - p + 1, (self.batch_size,), generator=g)
        xs = torch.randint(0, w - p + 1, (self.batch_size,), generator=g)
        for _ in range(self.redraws):  # redraw mostly-concealed patches
            b = self._crop(index, ys, xs)
            bad = self._too_cloudy(b)
            if not bool(bad.any()):
                break
            nb = int(bad.sum())
            index[bad] = torch.randint(0, len(sc), (nb,), generator=g)
            ys[bad] = torch.randint(0, h - p + 1, (nb,), generator=g)
            xs[bad] = torch.randint(0, w - p + 1, (nb,), generator=g)
        return augment(b, g) if self.augment else b

    def _too_cloudy(self, b: Batch) -> torch.Tensor:
        """(B,) True for patches below the HR or LR clear-share thresholds."""
        assert b.hr_mask is not None
        bad = b.hr_mask.float().mean(dim=(1, 2)) < self.min_clear
        if self.min_clear_lr > 0:
            valid = b.frame_valid.float()
            lr_share = ((b.lr_mask.float().mean(dim=(-2, -1)) * valid).sum(1)
                        / valid.sum(1).clamp(min=1))
            bad |= lr_share < self.min_clear_lr
        return bad

    def state(self) -> torch.Tensor:
        """The generator state (a uint8 tensor) for checkpoints."""
        return self.generator.get_state()

    def set_state(self, state: torch.Tensor) -> None:
        """Restore a state saved by :meth:`state`."""
        self.generator.set_state(state)
