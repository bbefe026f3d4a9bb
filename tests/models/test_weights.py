"""Weights: safetensors + sidecar round trip, checks, corruption, URL download, shipped tags."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from satsr.errors import (
    ConfigError,
    CorruptFileError,
    IncompatibleWeightsError,
    UnverifiedWeightsError,
    WeightsNotFoundError,
)
from satsr.models import create_model, create_pretrained, list_models, model_info
from satsr.models import weights as W

NAME = "fsrcnn"  # a small learned model of the zoo


def _model(**kw: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model(NAME, preset="small", **kw)  # type: ignore[arg-type]


def _zoo_learned() -> list[str]:
    """Learned models of satsr's own catalog (tests may register extra ones)."""
    return [n for n in list_models() if model_info(n).learned
            and model_info(n).entrypoint.startswith("satsr.")]


def _lr() -> torch.Tensor:
    return torch.rand(2, 3, 1, 10, 10, generator=torch.Generator().manual_seed(1))


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    model = _model()
    return W.save_weights(model, tmp_path / "w.safetensors",
                          metadata={"bands": ["RED", "NIR"], "dataset": "sample",
                                    "metrics": {"val_cpsnr": 40.0}})


def test_round_trip_identical_outputs(saved: Path) -> None:
    ref = _model().eval()
    torch.manual_seed(123)  # different init: only the loaded weights make outputs equal
    loaded = create_model(NAME, preset="small", weights=saved).eval()
    with torch.no_grad():
        assert torch.equal(ref(_lr()), loaded(_lr()))
    meta = W.read_sidecar(saved)
    assert meta["model"] == NAME and meta["scale"] == 3 and meta["in_channels"] == 1
    assert meta["sha256"] == W.file_sha256(saved)
    assert meta["bands"] == ["RED", "NIR"] and meta["metrics"]["val_cpsnr"] == 40.0
    assert meta["hparams"]["d"] == model_info(NAME).presets["small"].get("d", meta["hparams"]["d"])
    assert not list(saved.parent.glob(".*tmp*"))


def test_never_pickled(saved: Path) -> None:
    assert saved.read_bytes()[8:9] == b"{"  # safetensors: u64 header length, then JSON


def test_mismatches_are_clear(saved: Path) -> None:
    with pytest.raises(ConfigError, match="trained for scale 3, you asked for scale 2"):
        create_model(NAME, preset="small", scale=2, weights=saved)
    with pytest.raises(ConfigError, match="trained for in channels 1, you asked for in "
                       "channels 4"):
        create_model(NAME, preset="small", in_channels=4, weights=saved)
    with pytest.raises(ConfigError, match="trained with d=56 \\(you asked 32\\)"):
        create_model(NAME, preset="small", d=32, weights=saved)
    with pytest.raises(ConfigError, match="are for model 'fsrcnn'"):
        create_model("srcnn", preset="small", weights=saved)


def test_truncated_and_corrupt(saved: Path) -> None:
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match="corrupt or truncated"):
        create_model(NAME, preset="small", weights=saved)
    # a broken file whose checksum was recorded (e.g. a bad save) still fails cleanly
    meta = W.read_sidecar(saved)
    meta["sha256"] = W.file_sha256(saved)
    W.sidecar_path(saved).write_text(json.dumps(meta))
    with pytest.raises(CorruptFileError, match="cannot be read"):
        create_model(NAME, preset="small", weights=saved)
    W.sidecar_path(saved).write_text("{not json")
    with pytest.raises(CorruptFileError, match="not valid JSON"):
        create_model(NAME, preset="small", weights=saved)
    W.sidecar_path(saved).unlink()
    with pytest.raises(WeightsNotFoundError, match="sidecar"):
        create_model(NAME, preset="small", weights=saved)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        create_model(NAME, preset="small", weights=tmp_path / "nope.safetensors")
    with pytest.raises(ConfigError, match="is a folder"):
        create_model(NAME, preset="small", weights=tmp_path)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server serving ``tmp_path / "www"``."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_url_download_with_checksum(saved: Path, server: tuple[str, Path]) -> None:
    base, root = server
    shutil.copy(saved, root / "m.safetensors")
    shutil.copy(W.sidecar_path(saved), root / "m.json")
    url = f"{base}/m.safetensors"
    model = create_model(NAME, preset="small", weights=url)
    cached = W.fetch_weights(url)
    assert cached.is_relative_to(W.weights_cache())
    with torch.no_grad():
        assert torch.equal(model.eval()(_lr()), _model().eval()(_lr()))
    # the server copy gets corrupted: the cached good copy is kept and reused
    (root / "m.safetensors").write_bytes(b"garbage")
    assert W.fetch_weights(url) == cached
    # a fresh cache downloads the corrupt copy and refuses it, leaving nothing behind
    shutil.rmtree(W.weights_cache())
    with pytest.raises(CorruptFileError, match="does not match its sha256"):
        W.fetch_weights(url)
    assert not list(W.weights_cache().rglob("*.safetensors"))
    with pytest.raises(CorruptFileError, match="does not match"):
        W.fetch_weights(url, sha256="0" * 64)
    with pytest.raises(WeightsNotFoundError, match="could not download"):
        W.fetch_weights(f"{base}/missing.safetensors")


def test_shipped_tags(saved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = tmp_path / "pretrained"
    shipped.mkdir()
    monkeypatch.setattr(W, "PRETRAINED_DIR", shipped)
    assert W.pretrained(NAME, "sample", "RED") is None
    shutil.copy(saved, shipped / f"{NAME}__sample.safetensors")
    shutil.copy(W.sidecar_path(saved), shipped / f"{NAME}__sample.json")
    path = shipped / f"{NAME}__sample.safetensors"
    assert W.pretrained(NAME, "sample") == path
    assert W.pretrained(NAME, "sample", "RED") == path
    assert W.pretrained(NAME, "sample", "SWIR") is None
    assert W.pretrained("srcnn", "sample") is None
    ref = _model().eval()
    for tag in ("sample", "sample-NIR"):
        model = create_model(NAME, preset="small", weights=tag).eval()
        with torch.no_grad():
            assert torch.equal(model(_lr()), ref(_lr()))
    built = create_pretrained(NAME, "sample", "RED")
    assert built is not None
    with torch.no_grad():
        assert torch.equal(built.eval()(_lr()), ref(_lr()))
    assert create_pretrained(NAME, "probav") is None
    with pytest.raises(WeightsNotFoundError, match="shipped for this model: \\['sample'\\]"):
        create_model(NAME, preset="small", weights="probav-RED")
    assert [r["model"] for r in W.list_pretrained()] == [NAME]


@pytest.mark.parametrize("record", W.list_pretrained(), ids=lambda r: r["path"].stem)
def test_shipped_weights_load(record: dict[str, object]) -> None:
    path = record["path"]
    assert isinstance(path, Path)
    assert path.stat().st_size <= 2 * 1024 * 1024
    model = create_pretrained(str(record["model"]), str(record["dataset"]),
                                record["band"])  # type: ignore[arg-type]
    assert model is not None
    meta = W.read_sidecar(path)
    assert meta["sha256"] == W.file_sha256(path)
    assert meta["dataset"] == record["dataset"] and meta["recipe"]


def test_every_learned_model_has_shipped_sample_weights() -> None:
    missing = [n for n in _zoo_learned() if W.pretrained(n, "sample", "RED") is None]
    assert not missing, f"no shipped sample weights for {missing}"


def test_shipped_sample_weights_were_trained_on_the_current_sample() -> None:
    """Retrain (benchmarks/train_all.py) whenever SAMPLE_VERSION changes."""
    from satsr.datasets.sample import SAMPLE_VERSION

    stale = {n: W.read_sidecar(p).get("data_version") for n in _zoo_learned()
             if (p := W.pretrained(n, "sample", "RED")) is not None
             and W.read_sidecar(p).get("data_version", {}).get("sample_version")
             != SAMPLE_VERSION}
    assert not stale, f"shipped weights trained on another sample version: {stale}"


def test_normalisation_hooks_round_trip(tmp_path: Path) -> None:
    model = _model().eval()
    lr = _lr() * 0.01 + 0.02
    with torch.no_grad():
        raw = model((lr - 0.02) / 0.01) * 0.01 + 0.02
        W.set_normalisation(model, 0.02, 0.01)
        W.set_normalisation(model, 0.02, 0.01)  # replaces, never stacks
        assert torch.allclose(model(lr), raw)
        assert torch.allclose(model(lr=lr), raw)
    path = W.save_weights(model, tmp_path / "n.safetensors")
    assert W.read_sidecar(path)["normalisation"] == {"type": "affine", "offset": 0.02,
                                                     "scale": 0.01}
    loaded = create_model(NAME, preset="small", weights=path).eval()
    with torch.no_grad():
        assert torch.allclose(loaded(lr), raw)
    with pytest.raises(ConfigError, match="scale must be > 0"):
        W.set_normalisation(model, 0.0, 0.0)


@pytest.mark.slow
def test_shipped_weights_beat_baselines_on_heldout_test() -> None:
    """Acceptance: on the sample's test split every shipped model beats bicubic in mean PSNR,
    and every multi-frame model beats mean-bicubic in the PROBA-V score (score < 1)."""
    from satsr.batch import batch_from_dataset
    from satsr.datasets import load_datasets
    from satsr.metrics import cpsnr, psnr

    learned = _zoo_learned()
    res: dict[str, dict[str, list[torch.Tensor]]] = {}
    with torch.no_grad():
        for ds in load_datasets("sample", split="test"):
            band = str(ds["band"].values[0])
            b = batch_from_dataset(ds)
            assert b.hr is not None and b.hr_mask is not None and b.norm is not None
            for name in ["bicubic", *learned]:
                model = (create_model(name) if name == "bicubic"
                         else create_pretrained(name, "sample", band))
                assert model is not None, name
                sr = model.eval()(b.lr, b.lr_mask, b.frame_valid).float()
                c = cpsnr(sr, b.hr, b.hr_mask)
                assert isinstance(c, torch.Tensor)
                entry = res.setdefault(name, {"psnr": [], "score": []})
                entry["psnr"].append(psnr(sr, b.hr, data_range=1.0, mask=b.hr_mask))
                entry["score"].append(b.norm / c)
    ref = torch.cat(res["bicubic"]["psnr"]).mean().item()
    worse = {n: torch.cat(res[n]["psnr"]).mean().item() - ref for n in learned
             if torch.cat(res[n]["psnr"]).mean().item() <= ref}
    assert not worse, f"no better than bicubic in PSNR (dB difference): {worse}"
    scores = {n: torch.cat(res[n]["score"]).mean().item() for n in learned
              if model_info(n).multi_frame}
    assert scores and all(s < 1 for s in scores.values()), scores


# --- data compatibility, unverified weights, canonical bytes --------------------------------------

_FACTS = {"dataset": "probav", "bands": ["NIR"], "lr_sensor": "PROBA-V 300m",
          "hr_sensor": "PROBA-V 100m", "scale": 3, "value_scale": "uint16/65535",
          "data_range": 1.0}


def test_check_compatible_names_both_sides() -> None:
    meta = {**_FACTS, "file": "edsr-sample-RED.safetensors", "bands": ["RED"], "in_channels": 1}
    with pytest.raises(IncompatibleWeightsError) as err:
        W.check_compatible(meta, _FACTS)
    msg = str(err.value)
    assert "\n" not in msg
    assert ("weights edsr-sample-RED.safetensors were trained on band RED; the dataset probav "
            "has band NIR") in msg and "--allow-mismatch" in msg
    assert W.check_compatible(meta, _FACTS, allow_mismatch=True) == ["band RED != NIR"]
    # pooled single-channel weights accept every band they saw; unknown facts are not compared
    assert W.check_compatible({**meta, "bands": ["RED", "NIR"]}, _FACTS) == []
    assert W.check_compatible({"bands": ["NIR"]}, {"bands": ["NIR"]}) == []
    # multi-channel weights need the same bands in the same order
    multi = {**meta, "bands": ["NIR", "RED"], "in_channels": 2}
    with pytest.raises(IncompatibleWeightsError, match="band NIR, RED"):
        W.check_compatible(multi, {**_FACTS, "bands": ["RED", "NIR"]})
    other = {**meta, "bands": ["NIR"], "lr_sensor": "Landsat-9 OLI-2 30 m",
             "value_scale": "reflectance", "scale": 2}
    with pytest.raises(IncompatibleWeightsError,
                       match="lr sensor Landsat-9 OLI-2 30 m, scale 2, value scale reflectance; "
                             "the dataset probav has lr sensor PROBA-V 300m, scale 3, value scale "
                             "uint16/65535"):
        W.check_compatible(other, _FACTS, weights="mine")


def test_dataset_facts_from_a_store() -> None:
    from satsr.datasets import open_dataset

    ds = open_dataset("sample", split="test", band="NIR")
    facts = W.dataset_facts(ds)
    assert facts["bands"] == ["NIR"] and facts["scale"] == 3 and facts["dataset"] == "sample"
    assert facts["lr_sensor"] and facts["value_scale"] == "uint16/65535"
    for record in W.list_pretrained():  # every shipped sample weights file fits the sample
        assert W.check_compatible(W.read_sidecar(record["path"]), facts) == []


def test_unverified_weights_are_refused(saved: Path) -> None:
    meta = W.read_sidecar(saved)
    del meta["sha256"]
    W.sidecar_path(saved).write_text(json.dumps(meta))
    with pytest.raises(UnverifiedWeightsError, match=r"no sha256 .* --trust-unverified"):
        W.load_weights(_model(), saved)
    W.load_weights(_model(), saved, trust_unverified=True)


def test_same_tensors_same_bytes(tmp_path: Path) -> None:
    """Canonical files: the safetensors header and the sidecar do not depend on dict order."""
    a = W.save_weights(_model(), tmp_path / "a.safetensors", metadata={"z": 1, "a": {"y": 2,
                                                                                     "b": 3}})
    b = W.save_weights(_model(), tmp_path / "b.safetensors", metadata={"a": {"b": 3, "y": 2},
                                                                        "z": 1})
    assert a.read_bytes() == b.read_bytes()
    side_a, side_b = W.read_sidecar(a), W.read_sidecar(b)
    assert side_a.pop("file") == "a.safetensors" and side_b.pop("file") == "b.safetensors"
    assert side_a == side_b
    text = W.sidecar_path(a).read_text()
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    header_len = int.from_bytes(a.read_bytes()[:8], "little")
    header = a.read_bytes()[8:8 + header_len]
    assert header_len % 8 == 0
    assert header.rstrip(b" ") == json.dumps(json.loads(header), sort_keys=True,
                                             separators=(",", ":")).encode()


def test_shipped_weights_are_canonical() -> None:
    for record in W.list_pretrained():
        path = record["path"]
        assert isinstance(path, Path)
        data = path.read_bytes()
        assert W.canonical_safetensors(data) == data, path.name
        text = W.sidecar_path(path).read_text()
        assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
