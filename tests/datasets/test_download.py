"""Resumable, verified downloads and safe extraction, against a loopback HTTP server."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest

from satsr.datasets import probav as pv
from satsr.datasets.download import (
    DownloadError,
    download,
    extract_zip,
    file_digest,
    load_manifest,
)
from satsr.errors import CorruptFileError
from tests.loopback_http import md5, serve, tiny_probav_zip

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def archive() -> bytes:
    return tiny_probav_zip()


def test_full_download(tmp_path: Path, archive: bytes) -> None:
    dest = tmp_path / "a.zip"
    with serve(archive) as s:
        got = download(s.url, dest, size=len(archive), md5=md5(archive),
                       sha256=hashlib.sha256(archive).hexdigest(), chunk=4096, progress=False)
    assert got == dest and dest.read_bytes() == archive
    assert not dest.with_name("a.zip.part").exists()
    assert s.ranges == [None]
    assert file_digest(dest, "md5") == md5(archive)


def test_resume_truncated_partial(tmp_path: Path, archive: bytes) -> None:
    dest = tmp_path / "a.zip"
    dest.with_name("a.zip.part").write_bytes(archive[:10_000])
    with serve(archive) as s:
        download(s.url, dest, size=len(archive), md5=md5(archive), chunk=4096, progress=False)
    assert s.ranges == ["bytes=10000-"]  # only the rest was asked for
    assert dest.read_bytes() == archive


def test_dropped_connection_then_resume(tmp_path: Path, archive: bytes) -> None:
    dest = tmp_path / "a.zip"
    part = dest.with_name("a.zip.part")
    with serve(archive, mode="drop") as s, pytest.raises(DownloadError, match="resume"):
        download(s.url, dest, size=len(archive), md5=md5(archive), chunk=4096, progress=False)
    assert not dest.exists()
    kept = part.stat().st_size
    assert 0 < kept < len(archive)  # the partial file is kept for the next call
    with serve(archive) as s:
        download(s.url, dest, size=len(archive), md5=md5(archive), chunk=4096, progress=False)
    assert s.ranges == [f"bytes={kept}-"]
    assert dest.read_bytes() == archive and not part.exists()


def test_server_ignoring_range_restarts(tmp_path: Path, archive: bytes) -> None:
    dest = tmp_path / "a.zip"
    dest.with_name("a.zip.part").write_bytes(b"garbage" * 100)
    with serve(archive, mode="norange") as s:
        download(s.url, dest, md5=md5(archive), progress=False)
    assert dest.read_bytes() == archive


def test_checksum_mismatch(tmp_path: Path, archive: bytes) -> None:
    dest = tmp_path / "a.zip"
    with serve(archive) as s, pytest.raises(DownloadError, match=r"md5 of the download .* "
                                            r"expected 0{32}"):
        download(s.url, dest, md5="0" * 32, progress=False)
    assert not dest.exists() and not dest.with_name("a.zip.part").exists()
    with serve(archive) as s, pytest.raises(DownloadError, match="sha256"):
        download(s.url, dest, sha256="f" * 64, progress=False)
    assert not dest.exists()


def test_size_mismatch(tmp_path: Path, archive: bytes) -> None:
    dest = tmp_path / "a.zip"
    with serve(archive) as s, pytest.raises(DownloadError, match=f"has {len(archive)} bytes, "
                                            f"expected {len(archive) + 1}"):
        download(s.url, dest, size=len(archive) + 1, progress=False)
    assert not dest.exists()


def test_http_error(tmp_path: Path, archive: bytes) -> None:
    with serve(archive, mode="404") as s, pytest.raises(DownloadError, match="HTTP 404"):
        download(s.url, tmp_path / "a.zip", progress=False)
    assert not (tmp_path / "a.zip").exists()


def test_existing_verified_file_is_kept(tmp_path: Path, archive: bytes) -> None:
    dest = tmp_path / "a.zip"
    dest.write_bytes(archive)
    with serve(archive) as s:
        download(s.url, dest, md5=md5(archive), progress=False)
    assert s.ranges == []  # no request at all


def test_extract_zip_strip_and_merge(tmp_path: Path) -> None:
    data = tiny_probav_zip(prefix="probav_data/")
    (tmp_path / "a.zip").write_bytes(data)
    target = tmp_path / "root"
    (target / "train").mkdir(parents=True)
    (target / "keep.txt").write_text("mine")
    extract_zip(tmp_path / "a.zip", target, strip="probav_data", progress=False)
    assert (target / "norm.csv").exists() and (target / "keep.txt").read_text() == "mine"
    assert (target / "train/RED/imgset0000/HR.png").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_extract_refuses_path_traversal_and_corrupt(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../evil.txt", "x")
    (tmp_path / "evil.zip").write_bytes(buf.getvalue())
    with pytest.raises(CorruptFileError, match="outside the target folder"):
        extract_zip(tmp_path / "evil.zip", tmp_path / "root", progress=False)
    assert not (tmp_path / "evil.txt").exists()
    (tmp_path / "bad.zip").write_bytes(b"PK not really a zip")
    with pytest.raises(CorruptFileError, match="not a valid zip"):
        extract_zip(tmp_path / "bad.zip", tmp_path / "root", progress=False)


def test_download_probav_end_to_end(tmp_path: Path) -> None:
    data = tiny_probav_zip(prefix="probav_data/")
    root = tmp_path / "probav"
    with serve(data) as s:
        out = pv.download_probav(root, url=s.url, md5=md5(data), size=len(data), progress=False)
    assert out == root and pv.is_probav_root(root)
    dss = {str(d["band"].values[0]): d for d in pv.load_probav(root=root)}
    assert list(dss["RED"]["split"].values) == ["train"]
    assert list(dss["NIR"]["split"].values) == ["test"]
    assert not dss["NIR"]["hr_mask"].values.any()
    assert float(dss["RED"]["norm"].values[0]) == 40.0


def test_download_probav_rejects_wrong_archive(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a/readme.txt", "x")
        zf.writestr("b/readme.txt", "y")
    with serve(buf.getvalue()) as s, pytest.raises(CorruptFileError, match="PROBA-V layout"):
        pv.download_probav(tmp_path / "probav", url=s.url, progress=False)


def test_manifest_shipped_and_honest() -> None:
    committed = json.loads((REPO / "datasets/probav/manifest.json").read_text())
    shipped = load_manifest("probav")
    assert committed == json.loads(
        (REPO / "satsr/datasets/manifests/probav.json").read_text())
    assert shipped.url.startswith("https://zenodo.org/records/3840519/")
    assert shipped.filename == "probav_data.zip"
    if shipped.md5 is None:  # no invented checksum: the notes must say it is unconfirmed
        assert "UNCONFIRMED" in shipped.notes
    else:
        assert len(shipped.md5) == 32
