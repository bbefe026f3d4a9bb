"""``satsr datasets`` end to end: list, download (loopback server), prepare, info, bad input."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from satsr.cli import main
from tests.loopback_http import md5, serve, tiny_probav_zip


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the CLI in-process like the console script; return (exit code, stdout, stderr)."""
    code = 0
    try:
        main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert "Traceback" not in err
    text = " ".join(err.split())
    for needle in needles:
        assert needle in text, text


@pytest.fixture()
def probav_copy(tmp_path: Path, probav_root: Path) -> Path:
    root = tmp_path / "probav"
    shutil.copytree(probav_root, root, ignore=shutil.ignore_patterns("PROVENANCE.md", "splits"))
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


def test_list(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
              tmp_path: Path) -> None:
    monkeypatch.setenv("SATSR_DATA", str(tmp_path))
    code, out, _ = run(["datasets", "list"], capsys)
    assert code == 0
    row = next(line for line in out.splitlines() if "probav" in line)
    assert "no" in row
    (tmp_path / "probav/train/RED").mkdir(parents=True)
    code, out, _ = run(["datasets", "list"], capsys)
    row = next(line for line in out.splitlines() if "probav" in line)
    assert code == 0 and "yes" in row
    assert "sample" in out


def test_download_prepare_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tiny_probav_zip()
    root = tmp_path / "probav"
    with serve(data) as s:
        code, out, err = run(["datasets", "download", "probav", "--root", str(root), "--url",
                              s.url, "--md5", md5(data), "--size", str(len(data))], capsys)
    assert code == 0, err
    assert "satsr datasets prepare probav" in out
    assert (root / "train/RED/imgset0000/HR.png").exists() and (root / "probav_data.zip").exists()
    code, out, err = run(["datasets", "prepare", "probav", "--root", str(root)], capsys)
    assert code == 0, err
    assert (root / "satsr/probav_RED.zarr").is_dir() and (root / "satsr/probav_NIR.zarr").is_dir()
    code, out, err = run(["datasets", "info", str(root)], capsys)
    assert code == 0, err
    assert "train 1, val 0, test 0" in out and "train 0, val 0, test 1" in out
    assert "uint16/65535" in out and "synthetic    False" in out


def test_download_checksum_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tiny_probav_zip()
    root = tmp_path / "probav"
    with serve(data) as s:
        code, _, err = run(["datasets", "download", "probav", "--root", str(root), "--url",
                            s.url, "--md5", "0" * 32], capsys)
    assert_one_line_error(code, err, "md5", "expected " + "0" * 32)
    assert not (root / "probav_data.zip").exists() and not (root / "train").exists()


def test_download_unknown_dataset(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["datasets", "download", "imagenet"], capsys)
    assert_one_line_error(code, err, "imagenet", "probav")


def test_prepare_and_info_real(probav_copy: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "stores"
    code, out, err = run(["datasets", "prepare", "probav", "--root", str(probav_copy), "--out",
                          str(out_dir)], capsys)
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["probav_NIR.zarr", "probav_RED.zarr"]
    code, _, err = run(["datasets", "prepare", "probav", "--root", str(probav_copy), "--out",
                        str(out_dir)], capsys)
    assert code == 0, err  # up to date: kept
    shutil.copytree(probav_copy / "train/RED/imgset0000", probav_copy / "train/RED/imgset0001")
    code, _, err = run(["datasets", "prepare", "probav", "--root", str(probav_copy), "--out",
                        str(out_dir)], capsys)
    assert_one_line_error(code, err, "prepared from other scenes", "--overwrite")
    shutil.rmtree(probav_copy / "train/RED/imgset0001")
    code, _, err = run(["datasets", "prepare", "probav", "--root", str(probav_copy), "--out",
                        str(out_dir), "--overwrite"], capsys)
    assert code == 0, err
    code, out, err = run(["datasets", "info", str(out_dir)], capsys)
    assert code == 0, err
    assert "probav [RED]" in out and "17..17 per scene" in out and "21..21 per scene" in out


def test_prepare_bad_inputs_write_nothing(probav_copy: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "out"
    code, _, err = run(["datasets", "prepare", "probav", "--root", str(tmp_path / "nowhere"),
                        "--out", str(out_dir)], capsys)
    assert_one_line_error(code, err, "does not exist")
    bad = probav_copy / "train/NIR/imgset0594/LR007.png"
    bad.write_bytes(bad.read_bytes()[:500])
    code, _, err = run(["datasets", "prepare", "probav", "--root", str(probav_copy), "--out",
                        str(out_dir)], capsys)
    assert_one_line_error(code, err, "LR007.png", "not a readable PNG")
    assert not out_dir.exists() or not any(out_dir.iterdir())
    (probav_copy / "train/RED/imgset0000/HR.png").unlink()
    code, _, err = run(["datasets", "prepare", "probav", "--root", str(probav_copy), "--out",
                        str(out_dir)], capsys)
    assert_one_line_error(code, err, "imgset0000 has no HR.png")
    assert not out_dir.exists() or not any(out_dir.iterdir())
    code, _, err = run(["datasets", "prepare", "mnist"], capsys)
    assert_one_line_error(code, err, "mnist")


def test_info_bad_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["datasets", "info", str(tmp_path / "nothing")], capsys)
    assert_one_line_error(code, err, "nothing")


def test_console_script_error_is_one_line(tmp_path: Path) -> None:
    """The installed entry point: exit 2, one line on stderr, no traceback."""
    env = {**os.environ, "SATSR_DATA": str(tmp_path / "home"), "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-c", "from satsr.cli import main; main()", "datasets", "prepare",
         "probav", "--out", str(tmp_path / "out")],
        capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("error:") and len(proc.stderr.strip().splitlines()) == 1
    assert "satsr datasets download probav" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_download_without_checksum_says_so(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    data = tiny_probav_zip(prefix="probav_data/")
    root = tmp_path / "probav"
    with serve(data) as s:
        code, _, err = run(["datasets", "download", "probav", "--root", str(root), "--url", s.url,
                            "--no-keep-archive"], capsys)
    assert code == 0, err
    assert "checked: zip CRCs, probav layout (no archive checksum" in " ".join(err.split())
    assert (root / "norm.csv").exists() and not (root / "probav_data.zip").exists()


@pytest.mark.slow  # generates the whole synthetic sample (112 scenes)
def test_prepare_sample_generates_synthetic_layout(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sample"
    code, stdout, err = run(["datasets", "prepare", "sample", "--out", str(out)], capsys)
    assert code == 0, err
    assert f"ready: {out}" in stdout
    code, stdout, err = run(["datasets", "info", str(out)], capsys)
    assert code == 0, err
    assert "128x128" not in stdout and "32x32 / 96x96" in stdout
    code, _, err = run(["datasets", "prepare", "sample", "--out", str(out)], capsys)
    assert_one_line_error(code, err, "already exists", "--overwrite")


def _bad_zip(kind: str) -> bytes:
    import io
    import zipfile

    if kind == "not-a-zip":
        return b"<html>not found</html>" * 50
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        if kind == "zip-slip":
            zf.writestr("../evil.txt", "x")
        zf.writestr("data/readme.txt", "not PROBA-V")
    data = buf.getvalue()
    if kind == "zip-slip":
        return data
    return data


@pytest.mark.parametrize(
    ("kind", "needles"),
    [
        ("404", ["HTTP 404", "check the URL"]),
        ("not-a-zip", ["not a valid zip archive"]),
        ("zip-slip", ["points outside the target folder"]),
        ("not-probav", ["does not hold the PROBA-V layout"]),
        ("cut", ["was cut", "run the same command again"]),
        ("bad-url", ["is not a download URL"]),
        ("dns", ["cannot be resolved", "nothing was downloaded"]),
    ],
)
def test_failed_downloads_say_only_what_failed(
        kind: str, needles: list[str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """No checksum note before the error, no "interrupted/resume" for a DNS failure, and
    nothing at a final path (the archive, train/, test/, norm.csv) afterwards."""
    root = tmp_path / "probav"
    body = {"not-a-zip": _bad_zip("not-a-zip"), "zip-slip": _bad_zip("zip-slip"),
            "not-probav": _bad_zip("not-probav")}.get(kind, tiny_probav_zip())
    mode = {"404": "404", "cut": "drop"}.get(kind, "normal")
    with serve(body, mode=mode) as s:
        url = {"bad-url": "zenodo.org/probav_data.zip",
               "dns": "http://satsr-no-such-host.invalid/probav_data.zip"}.get(kind, s.url)
        code, _, err = run(["datasets", "download", "probav", "--root", str(root), "--url",
                            url], capsys)
    assert_one_line_error(code, err, *needles)
    assert "checksum" not in err
    if kind != "dns":
        assert "resume" not in err or kind == "cut"
    left = sorted(p.name for p in root.iterdir()) if root.exists() else []
    # a cut transfer keeps its partial file (not a final path) to resume, when bytes were saved
    assert left in ([], ["probav_data.zip.part"]) if kind == "cut" else left == [], left


def test_verify_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from satsr import schema
    from tests.test_schema import make

    store = schema.save_dataset(make(n_scene=schema.SCENES_PER_CHUNK + 1), tmp_path / "s.zarr")
    code, out, _ = run(["datasets", "verify", str(tmp_path)], capsys)
    assert code == 0 and out.startswith(f"ok: {store}")
    meta = json.loads((store / "hr" / "zarr.json").read_text())
    assert meta["codecs"][-1]["name"] == "crc32c"
    (store / "hr/c/1/0/0/0").write_bytes((store / "hr/c/0/0/0/0").read_bytes())
    (store / "lr_mask/c/0/0/0/0").unlink()
    code, out, err = run(["datasets", "verify", str(store)], capsys)
    assert code == 1 and "Traceback" not in err
    assert out.strip().splitlines() == [
        f"{store}: variable 'lr_mask' chunk c/0/0/0/0 is missing (it would read as fill "
        "values); the store is damaged: re-create it with the command that wrote it (`satsr "
        "datasets prepare NAME --overwrite`, `satsr fetch` or `satsr datasets make` into a new "
        "--out) or copy it again"]
    (store / "lr_mask/c/0/0/0/0").write_bytes(b"")
    code, out, _ = run(["datasets", "verify", str(store)], capsys)
    assert code == 1 and "'lr_mask' chunk c/0/0/0/0 is empty" in out
    shutil.rmtree(store / "lr_mask")
    schema_free = tmp_path / "nothing"
    schema_free.mkdir()
    code, _, err = run(["datasets", "verify", str(schema_free)], capsys)
    assert_one_line_error(code, err, "is not a Zarr store")
def test_prepare_into_a_folder_in_use_is_refused(probav_copy: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from tests.test_lock import _holder

    out_dir = tmp_path / "stores"
    holder = _holder(out_dir, 120)
    try:
        probav = run(["datasets", "prepare", "probav", "--root", str(probav_copy), "--out",
                      str(out_dir)], capsys)
        sample = run(["datasets", "prepare", "sample", "--out", str(out_dir / "sample")], capsys)
    finally:
        holder.kill()
        holder.wait()
    for code, _, err in (probav, sample):
        assert_one_line_error(code, err, f"in use by another satsr run (pid {holder.pid})")
    # only the killed holder's lock file (a stale file holds no lock; the next run reuses it)
    assert sorted(p.name for p in out_dir.iterdir()) == [".satsr.lock"]
