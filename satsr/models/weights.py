"""Trained weights: safetensors files with a JSON sidecar, shipped weights, URL downloads.

A weights file ``NAME.safetensors`` always travels with ``NAME.json`` (the sidecar) holding the
model name, its hyper-parameters, ``scale``, ``in_channels``, bands, value scale, the input
normalisation (``{"type": "affine", "offset", "scale"}`` applied by hooks — ``affine-input``:
inputs only, for sigmoid-output models — see
:func:`set_normalisation`; null when none), the dataset/split it was trained on, the training recipe, validation metrics and
the ``sha256`` of the ``.safetensors`` file. Loading verifies the checksum and that the model
matches the sidecar. Weights are never unpickled: safetensors only.

Shipped weights live in ``satsr/models/pretrained/<model>__<dataset>[__<band>].safetensors``;
``pretrained(name, dataset, band)`` finds them and tags such as ``"sample"`` or ``"sample-RED"``
are accepted wherever a weights path is.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import struct
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from satsr._atomic import write_bytes, write_json
from satsr._digest import file_digest
from satsr.errors import (
    ConfigError,
    CorruptFileError,
    IncompatibleWeightsError,
    UnverifiedWeightsError,
    WeightsNotFoundError,
)

if TYPE_CHECKING:
    from satsr.models.base import SRModel

log = logging.getLogger(__name__)

FORMAT = "satsr-weights"
FORMAT_VERSION = 1
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
# hyper-parameters that describe the data rather than the architecture; checked separately
DATA_KEYS = ("scale", "in_channels", "num_frames")


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """The JSON sidecar next to a ``.safetensors`` file."""
    return Path(path).with_suffix(".json")


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file (see :func:`satsr._digest.file_digest`)."""
    return file_digest(path, "sha256")


def canonical_safetensors(data: bytes) -> bytes:
    """``data`` (a safetensors file) with its JSON header rewritten canonically.

    safetensors writes the ``__metadata__`` map in hash-map order, so equal tensors saved twice
    can differ in bytes. The header is re-serialised with sorted keys and no spaces, padded
    with spaces to 8 bytes as the format requires; the tensor bytes and offsets are unchanged.
    """
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data[8 + length:]


def _jsonable(value: Any) -> Any:
    """Plain JSON types (tuples → lists, numpy/torch scalars → Python numbers, else str)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "item"):
        return value.item()
    return str(value)


#: sidecar ``normalisation`` types: inputs and outputs, or inputs only (bounded outputs)
NORMALISATION_TYPES = ("affine", "affine-input")


def apply_normalisation(model: SRModel, norm: Any) -> None:
    """Re-apply a recorded ``normalisation`` entry (a sidecar's, or a model's
    ``satsr_normalisation``); ``None`` or an unknown type leaves ``model`` unchanged."""
    if isinstance(norm, dict) and norm.get("type") in NORMALISATION_TYPES:
        set_normalisation(model, float(norm["offset"]), float(norm["scale"]))


def set_normalisation(model: SRModel, offset: float, scale: float) -> None:
    """Make ``model`` see ``(lr − offset) / scale`` and return ``sr · scale + offset``.

    Networks learn much faster on standardised inputs, but satsr's forward contract takes and
    returns values on the dataset's value scale. This wraps any model with forward hooks (no
    new parameters, so the state dict is unchanged); the values go into the weights sidecar as
    ``normalisation`` and :func:`load_weights` re-applies them. Calling it again replaces them.
    A model with a ``bounded_output`` (a sigmoid on the data's value scale, e.g. ``srvgg16``)
    gets the input side only (recorded as type ``affine-input``).
    """
    if not scale > 0:
        raise ConfigError(f"normalisation scale must be > 0, got {scale}")
    for handle in getattr(model, "_satsr_norm_handles", ()):
        handle.remove()
    off, sc = float(offset), float(scale)

    def pre(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
            ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if args:
            args = ((args[0] - off) / sc, *args[1:])
        elif "lr" in kwargs:
            kwargs = {**kwargs, "lr": (kwargs["lr"] - off) / sc}
        return args, kwargs

    def post(module: Any, args: Any, output: Any) -> Any:
        return output * sc + off

    bounded = bool(getattr(model, "bounded_output", False))
    handles = [model.register_forward_pre_hook(pre, with_kwargs=True)]
    if not bounded:
        handles.append(model.register_forward_hook(post))
    model._satsr_norm_handles = tuple(handles)  # type: ignore[assignment]
    kind = "affine-input" if bounded else "affine"
    model.satsr_normalisation = {"type": kind, "offset": off, "scale": sc}  # type: ignore[assignment]


def save_weights(
    model: SRModel, path: str | os.PathLike[str], *, metadata: Mapping[str, Any] | None = None
) -> Path:
    """Write ``model``'s state dict to ``path`` (safetensors) and its sidecar ``path.json``.

    ``metadata`` adds fields to the sidecar (bands, value_scale, normalisation, dataset, split,
    recipe, metrics, ...). Both files are written to temporary names and renamed, so a crash never
    leaves a half-written pair. Returns the ``.safetensors`` path.
    """
    from safetensors.torch import save

    path = Path(path)
    if path.suffix != ".safetensors":
        path = path.with_suffix(".safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    hparams = _jsonable(getattr(model, "hparams", {}))
    header = {"format": FORMAT, "model": getattr(model, "model_name", type(model).__name__)}
    data = canonical_safetensors(save(state, metadata=header))
    sidecar = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": header["model"],
        "scale": int(model.scale),
        "in_channels": int(model.in_channels),
        "hparams": hparams,
        "normalisation": _jsonable(getattr(model, "satsr_normalisation", None)),
        **_jsonable(dict(metadata or {})),
        "sha256": hashlib.sha256(data).hexdigest(),
        "size_bytes": len(data),
        "file": path.name,
    }
    write_bytes(path, data)
    write_json(sidecar_path(path), sidecar)
    return path


def read_sidecar(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The sidecar metadata of a weights file (raises a clear error when missing or broken)."""
    side = sidecar_path(path)
    if not side.exists():
        raise WeightsNotFoundError(
            f"weights sidecar {side} is missing; satsr weights are a .safetensors file plus a "
            f"JSON sidecar written by satsr.models.weights.save_weights (keep them together)")
    try:
        meta = json.loads(side.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptFileError(f"weights sidecar {side} is not valid JSON ({exc}); "
                               "re-download or re-save the weights") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CorruptFileError(f"{side} is not a satsr weights sidecar (no format={FORMAT!r})")
    return meta


def verify_checksum(path: str | os.PathLike[str], expected: str) -> None:
    """Raise :class:`CorruptFileError` when the file's sha256 differs from ``expected``."""
    got = file_sha256(path)
    if got != expected:
        raise CorruptFileError(
            f"weights file {path} is corrupt or truncated (sha256 {got[:12]}…, sidecar says "
            f"{expected[:12]}…); delete it and download or re-train it")


def export_weights(src: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Copy a weights file and its sidecar to ``dest`` (e.g. into the shipped folder).

    The checksum is verified first and the sidecar's ``file`` field is updated; both files are
    written atomically.
    """
    src, dest = Path(src), Path(dest)
    if dest.suffix != ".safetensors":
        dest = dest.with_suffix(".safetensors")
    meta = read_sidecar(src)
    verify_checksum(src, str(meta["sha256"]))
    dest.parent.mkdir(parents=True, exist_ok=True)
    meta["file"] = dest.name
    write_bytes(dest, src.read_bytes())
    write_json(sidecar_path(dest), meta)
    return dest


# --- shipped weights and tags -------------------------------------------------------------------


def _pretrained_name(name: str, dataset: str, band: str | None) -> str:
    return f"{name}__{dataset}" + (f"__{band}" if band else "")


def pretrained(name: str, dataset: str = "sample", band: str | None = None) -> Path | None:
    """The shipped weights for model ``name`` trained on ``dataset`` (and ``band``), if any.

    A band-specific file (``<model>__<dataset>__<band>``) wins; otherwise a file trained on
    several bands pooled (``<model>__<dataset>``) is returned when its sidecar lists ``band``
    (or when ``band`` is None).
    """
    name = name.lower()
    if band:
        specific = PRETRAINED_DIR / (_pretrained_name(name, dataset, band) + ".safetensors")
        if specific.exists():
            return specific
    pooled = PRETRAINED_DIR / (_pretrained_name(name, dataset, None) + ".safetensors")
    if not pooled.exists():
        return None
    if band is not None:
        bands = [str(b) for b in read_sidecar(pooled).get("bands", [])]
        if bands and band not in bands:
            return None
    return pooled


def list_pretrained() -> list[dict[str, Any]]:
    """Every shipped weights file as ``{"model", "dataset", "band", "path"}`` records."""
    out = []
    for path in sorted(PRETRAINED_DIR.glob("*.safetensors")):
        parts = path.stem.split("__")
        out.append({"model": parts[0], "dataset": parts[1] if len(parts) > 1 else "",
                    "band": parts[2] if len(parts) > 2 else None, "path": path})
    return out


def _resolve_tag(model_name: str, tag: str) -> Path:
    """A tag like ``"sample"`` or ``"sample-RED"`` → the shipped weights file."""
    candidates: list[tuple[str, str | None]] = [(tag, None)]
    if "-" in tag:
        head, tail = tag.rsplit("-", 1)
        candidates.append((head, tail))
    for dataset, band in candidates:
        found = pretrained(model_name, dataset, band)
        if found is not None:
            return found
    have = sorted({f"{r['dataset']}" + (f"-{r['band']}" if r["band"] else "")
                   for r in list_pretrained() if r["model"] == model_name})
    raise WeightsNotFoundError(
        f"no weights {tag!r} for model {model_name!r}: not an existing file, a URL or a shipped "
        f"tag (shipped for this model: {have or 'none'}); train some with `satsr train`")


# --- URL downloads ------------------------------------------------------------------------------


def weights_cache() -> Path:
    """Where downloaded weights are kept: ``satsr.datasets.data_home() / "weights"``."""
    from satsr._home import data_home

    return data_home() / "weights"


def _fetch(url: str, dest: Path, *, sha256: str | None = None, reuse: bool = True) -> Path:
    """Download ``url`` to ``dest`` with satsr's one downloader; errors become weights errors."""
    from satsr._download import DownloadError, download

    try:
        return download(url, dest, sha256=sha256, reuse=reuse, progress=False)
    except DownloadError as exc:
        if exc.kind == "checksum":
            raise CorruptFileError(f"download of {url} does not match its sha256 "
                                   f"{str(sha256)[:12]}…; the server copy is corrupt or was "
                                   "replaced") from None
        raise WeightsNotFoundError(f"could not download weights: {exc}") from None


def fetch_weights(url: str, *, sha256: str | None = None,
                  trust_unverified: bool = False) -> Path:
    """Download ``url`` (a ``.safetensors``) and its ``.json`` sidecar into the weights cache.

    The file's sha256 must equal ``sha256`` when given, else the sidecar's; a sidecar without
    one is refused unless ``trust_unverified``. A cached copy with the right checksum is
    reused; a bad one is replaced.
    """
    parsed = urllib.parse.urlparse(url)
    fname = Path(parsed.path).name or "weights.safetensors"
    if not fname.endswith(".safetensors"):
        raise ConfigError(f"weights URL {url} must end in .safetensors (with a .json sidecar "
                          "next to it)")
    key = hashlib.sha256(url.encode()).hexdigest()[:12]
    dest = weights_cache() / key / fname
    side_url = urllib.parse.urlunparse(parsed._replace(path=parsed.path[:-len(".safetensors")]
                                                       + ".json"))
    _fetch(side_url, sidecar_path(dest), reuse=False)  # always the server's current sidecar
    meta = read_sidecar(dest)
    if sha256 is None:
        require_checksum(meta, dest, trust_unverified=trust_unverified)
    return _fetch(url, dest, sha256=sha256 or meta.get("sha256") or None)


# --- loading ------------------------------------------------------------------------------------


def resolve_weights(model_name: str, source: str | os.PathLike[str], *,
                    trust_unverified: bool = False) -> Path:
    """A local ``.safetensors`` path for a path, URL or shipped tag."""
    text = str(source)
    if text.startswith(("http://", "https://", "file://")):
        return fetch_weights(text, trust_unverified=trust_unverified)
    path = Path(text).expanduser()
    if path.exists():
        if path.is_dir():
            raise ConfigError(f"weights path {path} is a folder; pass the .safetensors file "
                              "(e.g. best.safetensors of a training run)")
        return path
    if os.sep in text or text.endswith(".safetensors"):
        raise WeightsNotFoundError(f"weights file {path} does not exist; check the path")
    return _resolve_tag(model_name, text)


def check_model_fits(model: SRModel, meta: Mapping[str, Any], path: Path) -> None:
    """Raise :class:`ConfigError` when ``model`` differs from what the weights were trained for
    (model name, scale, in_channels, hyper-parameters); see :func:`check_compatible` for data."""
    want_model = str(meta.get("model", ""))
    name = getattr(model, "model_name", "")
    if want_model and name and want_model != name:
        raise ConfigError(f"weights {path.name} are for model {want_model!r}, not {name!r}")
    for key in ("scale", "in_channels"):
        if key in meta and int(meta[key]) != int(getattr(model, key)):
            raise ConfigError(
                f"weights {path.name} were trained for {key.replace('_', ' ')} {meta[key]}, you "
                f"asked for {key.replace('_', ' ')} {getattr(model, key)}; pass "
                f"{key}={meta[key]} or use other weights")
    trained = dict(meta.get("hparams", {}))
    asked = _jsonable(getattr(model, "hparams", {}))
    diff = {k: (trained[k], asked[k]) for k in trained
            if k in asked and k not in ("scale", "in_channels") and trained[k] != asked[k]}
    if diff:
        items = ", ".join(f"{k}={t!r} (you asked {a!r})" for k, (t, a) in sorted(diff.items()))
        raise ConfigError(f"weights {path.name} were trained with {items}; create the model "
                          f"with the sidecar's hparams (satsr.models.weights.create_pretrained)")


#: Sidecar/dataset facts compared by :func:`check_compatible`, in message order.
DATA_FACTS = ("bands", "lr_sensor", "hr_sensor", "scale", "value_scale", "data_range")


def dataset_facts(ds: Any) -> dict[str, Any]:
    """The facts of a sample-schema dataset that trained weights depend on.

    Returns ``{"dataset", "bands", "lr_sensor", "hr_sensor", "scale", "value_scale",
    "data_range"}`` from an :class:`xarray.Dataset`'s ``band`` coordinate and attributes (the
    mapping :func:`check_compatible` takes as ``dataset_attrs``).
    """
    attrs = ds.attrs
    return {"dataset": str(attrs.get("dataset", "")),
            "bands": [str(b) for b in ds["band"].values],
            "lr_sensor": str(attrs.get("lr_sensor", "")),
            "hr_sensor": str(attrs.get("hr_sensor", "")),
            "scale": int(attrs["scale"]), "value_scale": str(attrs.get("value_scale", "")),
            "data_range": float(attrs.get("data_range", math.nan))}


def _fact_mismatches(meta: Mapping[str, Any], data: Mapping[str, Any]
                     ) -> list[tuple[str, str, str]]:
    """(fact, weights side, dataset side) for every fact recorded on both sides that differs."""
    out: list[tuple[str, str, str]] = []
    for key in DATA_FACTS:
        want, have = meta.get(key), data.get(key)
        if want in (None, "", []) or have in (None, "", []):
            continue  # not recorded (older sidecars have no sensors): nothing to compare
        if key == "bands":
            trained = [str(b) for b in want]
            bands = [str(b) for b in have]
            single = int(meta.get("in_channels", 1)) == 1
            ok = all(b in trained for b in bands) if single else bands == trained
            if not ok:
                out.append(("band", ", ".join(trained), ", ".join(bands)))
        elif key == "data_range":
            if not math.isclose(float(want), float(have), rel_tol=1e-9):
                out.append(("data range", f"{float(want):g}", f"{float(have):g}"))
        elif str(want) != str(have):
            out.append((key.replace("_", " "), str(want), str(have)))
    return out


def check_compatible(meta: Mapping[str, Any], dataset_attrs: Mapping[str, Any], *,
                     allow_mismatch: bool = False, weights: str | None = None) -> list[str]:
    """Check that weights were trained on data like the dataset they are about to run on.

    ``meta`` is the weights sidecar (:func:`read_sidecar`); ``dataset_attrs`` the dataset's
    facts (:func:`dataset_facts`: ``bands``, ``lr_sensor``, ``hr_sensor``, ``scale``,
    ``value_scale``, ``data_range``). A fact missing on either side is not compared. Band rule:
    single-channel weights accept any band they were trained on (pooled weights list several);
    multi-channel weights need the same bands in the same order. ``weights`` names the weights
    in the message (default: the sidecar's ``file``).

    Raises :class:`IncompatibleWeightsError` (one line naming both sides and
    ``--allow-mismatch``) on a mismatch; with ``allow_mismatch=True`` logs a warning instead.
    Returns the mismatches as short ``"band RED != NIR"`` strings (empty when compatible).
    """
    found = _fact_mismatches(meta, dataset_attrs)
    if not found:
        return []
    label = weights or str(meta.get("file", "")) or str(meta.get("model", "?"))
    trained = ", ".join(f"{fact} {want}" for fact, want, _ in found)
    has = ", ".join(f"{fact} {have}" for fact, _, have in found)
    name = str(dataset_attrs.get("dataset") or "")
    where = f"the dataset {name}" if name else "the dataset"
    message = f"weights {label} were trained on {trained}; {where} has {has}"
    if not allow_mismatch:
        raise IncompatibleWeightsError(f"{message}; use weights trained on this data or pass "
                                       "--allow-mismatch to use them anyway")
    log.warning("%s (used anyway: --allow-mismatch)", message)
    return [f"{fact} {want} != {have}" for fact, want, have in found]


def require_checksum(meta: Mapping[str, Any], path: Path, *, trust_unverified: bool = False
                     ) -> None:
    """Refuse weights whose sidecar records no sha256 unless ``trust_unverified``.

    Without a checksum, tampered or truncated tensors would load silently.
    """
    if meta.get("sha256"):
        return
    if not trust_unverified:
        raise UnverifiedWeightsError(
            f"weights {path} have no sha256 in their sidecar {sidecar_path(path).name}, so "
            "their content cannot be verified; re-save them with satsr (save_weights) or pass "
            "--trust-unverified to load them anyway")
    log.warning("loading unverified weights %s (no sha256 in the sidecar)", path)


def load_weights(model: SRModel, source: str | os.PathLike[str], *,
                 trust_unverified: bool = False) -> dict[str, Any]:
    """Load weights from a path, URL or shipped tag into ``model`` (in place); return the sidecar.

    Verifies the sha256 and the model/scale/in_channels/hparams recorded in the sidecar; a
    truncated or corrupt file raises :class:`CorruptFileError`, a mismatch :class:`ConfigError`,
    a sidecar without sha256 :class:`UnverifiedWeightsError` unless ``trust_unverified``. The
    dataset the weights will run on is checked separately by :func:`check_compatible`.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = resolve_weights(getattr(model, "model_name", ""), source,
                           trust_unverified=trust_unverified)
    meta = read_sidecar(path)
    require_checksum(meta, path, trust_unverified=trust_unverified)
    if meta.get("sha256"):
        verify_checksum(path, str(meta["sha256"]))
    check_model_fits(model, meta, path)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CorruptFileError(f"weights file {path} cannot be read ({exc}); re-download or "
                               "re-train it") from None
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    if missing or unexpected or shapes:
        detail = (f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
                  if unexpected else f"shape mismatch at {shapes[:3]}")
        raise ConfigError(f"weights {path.name} do not fit model {model.model_name!r} "
                          f"({detail}); create the model with the sidecar's hparams")
    model.load_state_dict(state)
    apply_normalisation(model, meta.get("normalisation"))
    return meta
