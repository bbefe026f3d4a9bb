"""End to end: ``satsr fetch --source ee`` (a subprocess) against the loopback EE emulator.

The emulator serves the real Landsat-9 / Sentinel-2 pair converted to EE assets. The CLI finds
it through ``SATSR_EE_API_URL`` and authenticates with a service-account key
(``SATSR_EE_CREDENTIALS``) whose token exchange also goes to the emulator, so the access token
only ever exists inside the fetch process and the emulator: it must appear in no output.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from satsr.testing.ee_assets import build_l8s2_assets
from satsr.testing.ee_emulator import EEEmulator, Faults

REPO = Path(__file__).resolve().parents[2]
AOI = REPO / "datasets" / "aoi" / "unalakleet.geojson"
FETCH_ARGS = ["--aoi", str(AOI), "--start", "2023-10-01", "--end", "2023-10-31", "--source", "ee",
              "--project", "test-project", "--pair-days", "110", "--chip", "32", "--tile-chips", "2",
              "--no-progress"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def assets(l8s2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ee-assets")
    build_l8s2_assets(l8s2_dir, root)
    return root


def _env(emu: EEEmulator, workdir: Path) -> dict[str, str]:
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("GOOGLE_APPLICATION_CREDENTIALS", "EE_PROJECT", "GOOGLE_CLOUD_PROJECT")}
    env.update(HOME=str(home), NO_GCE_CHECK="True", CLOUDSDK_CONFIG=str(home / "gcloud"),
               SATSR_EE_API_URL=emu.url,
               SATSR_EE_CREDENTIALS=str(emu.write_service_account_file(workdir / "sa.json")))
    return env


def _fetch_cmd(out: Path) -> list[str]:
    return [sys.executable, "-m", "satsr", "fetch", *FETCH_ARGS, "--out", str(out)]


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _arrays(store: Path) -> dict[str, bytes]:
    from satsr.datasets import open_dataset

    ds = open_dataset(store)
    out = {}
    for name in [*ds.data_vars, *ds.coords]:
        values = np.asarray(ds[name].values)
        if values.dtype.kind not in "biufcmM":       # object / string arrays: compare the text
            out[name] = json.dumps([str(v) for v in values.ravel()]).encode()
        else:
            out[name] = values.dtype.str.encode() + values.tobytes()
    return out


def _assert_same_chips(a: Path, b: Path) -> None:
    left, right = _arrays(a / "chips.zarr"), _arrays(b / "chips.zarr")
    assert left.keys() == right.keys()
    for name in left:
        assert left[name] == right[name], f"{name} differs"
    assert (a / "provenance.json").read_bytes() == (b / "provenance.json").read_bytes()
    assert (a / "footprints.geojson").read_bytes() == (b / "footprints.geojson").read_bytes()


@pytest.fixture(scope="module")
def clean_run(assets: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("fetch-clean")
    with EEEmulator(assets) as emu:
        env = _env(emu, work)
        proc = _run(_fetch_cmd(work / "out"), env)
        secrets = [emu.token, *emu.service_account_info()["private_key"].splitlines()[1:4]]
        pixels = emu.records("getPixels")
        return {"out": work / "out", "proc": proc, "secrets": secrets, "env": env,
                "n_pixels": len(pixels), "max_bytes": max(r.request_bytes or 0 for r in pixels),
                "oversized": list(emu.oversized), "auth": [r.status for r in emu.records("algorithms")]}


def test_fetch_builds_a_chip_dataset_that_bench_evaluates(clean_run, tmp_path):
    from satsr.datasets import open_dataset

    out = clean_run["out"]
    assert "chips" in clean_run["proc"].stdout
    ds = open_dataset(out / "chips.zarr")
    n = ds.sizes["scene"]
    assert n >= 5
    assert ds["lr"].shape == (n, 1, 4, 32, 32) and ds["hr"].shape == (n, 4, 96, 96)
    assert ds.attrs["dataset"] == "chips:unalakleet"
    hr = ds["hr"].values[ds["hr_mask"].values[:, None].repeat(4, 1)]
    lr = ds["lr"].values[ds["lr_mask"].values[:, :, None].repeat(4, 2)]
    assert np.nanmin(hr) >= 0.0 and np.nanmax(hr) < 1.0      # reflectance from S2 DN/10000
    assert np.nanmin(lr) >= -0.05 and np.nanmax(lr) < 1.0    # reflectance from C2 L2 DN
    lr_ids = {str(v) for v in np.ravel(ds["lr_id"].values)}
    assert lr_ids == {"LANDSAT/LC09/C02/T1_L2/LC09_077015_20230630"}
    assert clean_run["n_pixels"] > 0 and clean_run["oversized"] == []
    assert clean_run["auth"] == [200]
    bench = subprocess.run([sys.executable, "-m", "satsr", "bench", "--dataset", str(out / "chips.zarr"),
                            "--models", "bicubic", "--out", str(tmp_path / "bench")],
                           cwd=REPO, env=clean_run["env"], capture_output=True, text=True, timeout=400)
    assert bench.returncode == 0, bench.stderr[-2000:]
    assert (tmp_path / "bench" / "summary.json").is_file()


def test_no_token_or_key_in_any_output(clean_run):
    out = clean_run["out"]
    blobs = [clean_run["proc"].stdout.encode(), clean_run["proc"].stderr.encode()]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) > 5
    blobs += [p.read_bytes() for p in files]
    for secret in clean_run["secrets"]:
        assert secret and all(secret.encode() not in blob for blob in blobs)


def test_fetch_with_30_percent_429_500_is_byte_identical(assets, clean_run, tmp_path):
    with EEEmulator(assets, faults=Faults(rate=0.3, seed=5)) as emu:
        _run(_fetch_cmd(tmp_path / "out"), _env(emu, tmp_path))
        faults = [r.fault for r in emu.records() if r.fault]
    assert {"429", "500"} <= set(faults) and len(faults) >= 5
    _assert_same_chips(clean_run["out"], tmp_path / "out")


def test_fetch_killed_midway_then_rerun_is_byte_identical(assets, clean_run, tmp_path):
    out = tmp_path / "out"
    tiles = out / ".work" / "tiles"
    with EEEmulator(assets, faults=Faults(delay=0.3, endpoints=("getPixels",))) as emu:
        env = _env(emu, tmp_path)
        proc = subprocess.Popen(_fetch_cmd(out), env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and proc.poll() is None:
                if tiles.is_dir() and len(list(tiles.glob("*.json"))) >= 2:
                    break
                time.sleep(0.05)
            assert proc.poll() is None, "the fetch ended before it could be killed"
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert not (out / "chips.zarr").exists()
        done = len(list(tiles.glob("*.json")))
        assert done >= 2
    with EEEmulator(assets) as emu:
        _run(_fetch_cmd(out), _env(emu, tmp_path))
    _assert_same_chips(clean_run["out"], out)


def test_endpoint_and_key_by_flags(assets, clean_run, tmp_path):
    """``--ee-url`` and ``--ee-credentials`` instead of the environment variables: the same
    chips, and the key's path is in no output file (who logs in does not decide the chips)."""
    with EEEmulator(assets) as emu:
        env = _env(emu, tmp_path)
        key = env.pop("SATSR_EE_CREDENTIALS")
        url = env.pop("SATSR_EE_API_URL")
        out = tmp_path / "out"
        _run([*_fetch_cmd(out), "--ee-url", url, "--ee-credentials", key], env)
        assert [r.status for r in emu.records("algorithms")] == [200]
    _assert_same_chips(clean_run["out"], out)
    for p in out.rglob("*"):
        if p.is_file():
            assert key.encode() not in p.read_bytes(), p
    missing = subprocess.run([*_fetch_cmd(tmp_path / "x"), "--ee-url", url, "--ee-credentials",
                              str(tmp_path / "nope.json")], env=env, cwd=REPO, capture_output=True,
                             text=True, timeout=120)
    assert missing.returncode == 2 and "nope.json does not exist" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1 and not (tmp_path / "x").exists()


def test_cut_listing_bodies_are_retried_like_pixels(assets, clean_run, tmp_path):
    """Cut (malformed) 200 bodies on the listing calls and on getPixels: the same chips."""
    # calls are numbered over both endpoints: the first are the 4 listings (+ retries)
    faults = Faults(schedule={0: "malformed", 1: "malformed", 10: "malformed", 14: "malformed"},
                    endpoints=("listAssets", "getPixels"))
    with EEEmulator(assets, faults=faults) as emu:
        out = tmp_path / "out"
        _run(_fetch_cmd(out), _env(emu, tmp_path))
        faulted = {r.endpoint for r in emu.records() if r.fault == "malformed"}
        assert faulted == {"listAssets", "getPixels"}
    _assert_same_chips(clean_run["out"], out)


@pytest.mark.parametrize("url", ["closed-port", "not a url"])
def test_wrong_endpoint_fails_fast_in_one_line(assets, tmp_path, url):
    """A closed port: two quick retries, then one line (it took 4-5 minutes); not a URL at all:
    no request. Nothing is written under --out either way."""
    import socket

    if url == "closed-port":
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with EEEmulator(assets) as emu:
        env = _env(emu, tmp_path)
    out = tmp_path / "out"
    start = time.monotonic()
    proc = subprocess.run([*_fetch_cmd(out), "--ee-url", url], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert time.monotonic() - start < 30  # interpreter start-up included; the retries take ~1.5 s
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(lines) == 1, proc.stderr
    assert ("connection refused" if "127.0.0.1" in url else "is not an http(s) URL") in lines[0]
    assert "Traceback" not in proc.stderr and not out.exists()
