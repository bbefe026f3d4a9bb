"""Torch adapter of the sample schema: scenes of an xarray dataset → a :class:`Batch` of tensors."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import xarray as xr

from satsr.errors import CorruptFileError, SatsrError


@dataclass
class Batch:
    """A batch in the sample schema's tensor form.

    ``lr`` (B, T, C, h, w) float; ``lr_mask`` (B, T, h, w) bool (True = clear);
    ``frame_valid`` (B, T) bool; ``hr`` (B, C, H, W) and ``hr_mask`` (B, H, W) when targets are
    known; ``norm`` (B,) float64 PROBA-V baseline cPSNR when the dataset has it.
    """

    lr: torch.Tensor
    lr_mask: torch.Tensor
    frame_valid: torch.Tensor
    hr: torch.Tensor | None = None
    hr_mask: torch.Tensor | None = None
    norm: torch.Tensor | None = None
    scene: list[str] = field(default_factory=list)

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> Batch:
        """Move tensors to ``device`` (and cast the float ones to ``dtype`` when given)."""

        def move(t: torch.Tensor | None, is_float: bool) -> torch.Tensor | None:
            if t is None:
                return None
            return t.to(device=device, dtype=dtype if (is_float and dtype) else None)

        return replace(
            self,
            lr=move(self.lr, True),  # type: ignore[arg-type]
            lr_mask=move(self.lr_mask, False),  # type: ignore[arg-type]
            frame_valid=move(self.frame_valid, False),  # type: ignore[arg-type]
            hr=move(self.hr, True),
            hr_mask=move(self.hr_mask, False),
            norm=self.norm.to(device) if self.norm is not None else None,
        )

    def __len__(self) -> int:
        return int(self.lr.shape[0])


def batch_from_dataset(ds: xr.Dataset, index: Sequence[int] | slice | None = None) -> Batch:
    """Load scenes ``index`` of a sample-schema dataset into a CPU :class:`Batch` (float32)."""
    sub = ds if index is None else ds.isel(scene=index)
    try:
        sub = sub.load()
    except SatsrError:
        raise  # the store's own checks already named the problem
    except (RuntimeError, ValueError, OSError, KeyError) as exc:  # codecs raise these on bad chunks
        where = ds.encoding.get("source") or f"dataset {ds.attrs.get('dataset', '?')!r}"
        reason = " ".join(str(exc).split())[:120]
        raise CorruptFileError(f"{where}: a data chunk cannot be decoded ({type(exc).__name__}: "
                               f"{reason}); the store is corrupt or truncated — re-create it "
                               "(satsr datasets prepare / satsr fetch)") from None
    norm = None
    if "norm" in sub:
        norm = torch.from_numpy(np.asarray(sub["norm"].values, dtype=np.float64))
    return Batch(
        lr=torch.from_numpy(np.ascontiguousarray(sub["lr"].values)),
        lr_mask=torch.from_numpy(np.ascontiguousarray(sub["lr_mask"].values)),
        frame_valid=torch.from_numpy(np.ascontiguousarray(sub["frame_valid"].values)),
        hr=torch.from_numpy(np.ascontiguousarray(sub["hr"].values)),
        hr_mask=torch.from_numpy(np.ascontiguousarray(sub["hr_mask"].values)),
        norm=norm,
        scene=[str(s) for s in sub["scene"].values],
    )


def iter_batches(ds: xr.Dataset, batch_size: int = 8) -> Iterator[Batch]:
    """Yield consecutive batches of ``batch_size`` scenes (the last one may be smaller)."""
    n = ds.sizes["scene"]
    for start in range(0, n, batch_size):
        yield batch_from_dataset(ds, slice(start, min(start + batch_size, n)))
