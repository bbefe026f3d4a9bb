"""``satsr train`` end to end: a recipe run, and bad input as one line with exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from satsr.cli import main
from tests.train.conftest import TINY, make_store
from tests.train.conftest import tiny_model as tiny_model  # autouse: registered per test


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cli-stores")
    return make_store(root / "masked.zarr"), make_store(root / "clear.zarr", masked=False)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
        raise SystemExit(0)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def test_recipe_run(stores: tuple[Path, Path], tmp_path: Path,
                    capsys: pytest.CaptureFixture[str]) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"model: {TINY}\ndataset: {stores[0]}\nsteps: 3\npatch: 6\nbatch: 2\n"
                      "val_every: 3\nloss: cl1\n")
    code, out, err = _run(["train", "--recipe", str(recipe), "--out", str(tmp_path / "run"),
                           "--no-progress", "--steps", "4"], capsys)
    assert code == 0, err
    assert "best val cPSNR" in out and "at step 4" in out
    assert (tmp_path / "run" / "best.safetensors").exists()


def test_issue11_options_from_the_command_line(stores: tuple[Path, Path], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("optimizer: nadam\nschedule: plateau\nplateau_patience: 0\n")
    code, _, err = _run(["train", "--recipe", str(recipe), "--model", TINY, "--dataset",
                           str(stores[0]), "--out", str(tmp_path / "run"), "--no-progress",
                           "--steps", "2", "--patch", "6", "--batch", "2", "--val-every", "1",
                           "--plateau-factor", "0.25", "--min-clear", "0.95",
                           "--patch-min-clear-lr", "0.85", "--patch-min-clear-hr", "0.85",
                           "--loss-option", "border=1", "--loss", "cl1"], capsys)
    assert code == 0, err
    recipe_used = json.loads((tmp_path / "run" / "last.json").read_text())["recipe"]
    assert recipe_used["optimizer"] == "nadam" and recipe_used["schedule"] == "plateau"
    assert recipe_used["plateau_factor"] == 0.25 and recipe_used["min_clear"] == 0.95
    assert recipe_used["loss_options"] == {"border": 1}
    assert recipe_used["patch_min_clear_lr"] == 0.85


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "edsrr"], "unknown model 'edsrr'"),
    ([], "--model is required"),
    (["--model", TINY, "--loss", "cmse", "--dataset", "{clear}"], "needs cloud masks"),
    (["--model", TINY, "--loss", "l9", "--dataset", "{clear}"], "unknown loss"),
    (["--model", TINY, "--dataset", "/no/such/store"], "neither a known name"),
    (["--model", TINY, "--hparam", "width"], "is not KEY=VALUE"),
    (["--model", TINY, "--dataset", "{clear}", "--steps", "1", "--preset", "huge"],
     "has no preset 'huge'"),
    (["--model", TINY, "--dataset", "{clear}", "--optimizer", "sgdx"],
     "unknown --optimizer 'sgdx'"),
    (["--model", TINY, "--dataset", "{clear}", "--schedule", "step"], "unknown --schedule"),
    (["--model", TINY, "--dataset", "{clear}", "--gan", "--n-critic", "0"],
     "--n-critic must be at least 1"),
    (["--model", TINY, "--dataset", "{clear}", "--init", "edsr:/no/such.safetensors"],
     "does not exist"),
    (["--model", TINY, "--dataset", "{clear}", "--loss-option", "n"], "--loss-option 'n' is "
     "not KEY=VALUE"),
    (["--model", TINY, "--dataset", "{clear}", "--min-clear", "2"], "--min-clear must be"),
])
def test_bad_input_one_line(args: list[str], message: str, stores: tuple[Path, Path],
                            tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [a.replace("{clear}", str(stores[1])) for a in args]
    code, _, err = _run(["train", "--out", str(tmp_path / "x"), "--no-progress", *args], capsys)
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1 and message in lines[0], err
    assert not (tmp_path / "x" / "best.safetensors").exists()


def test_train_into_a_folder_in_use_is_refused(stores: tuple[Path, Path], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from tests.test_lock import _holder

    out = tmp_path / "run"
    holder = _holder(out, 120)
    try:
        code, _, err = _run(["train", "--model", TINY, "--dataset", str(stores[0]), "--steps",
                             "2", "--patch", "6", "--out", str(out), "--no-progress"], capsys)
    finally:
        holder.kill()
        holder.wait()
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and f"in use by another satsr run (pid {holder.pid})" in lines[0]
    assert not (out / "last.safetensors").exists()
