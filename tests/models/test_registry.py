"""Registry behaviour: wildcards, kinds, errors with close matches, lazy imports, presets."""

from __future__ import annotations

import pytest

from satsr.errors import ConfigError, ModelNotFoundError, SatsrError
from satsr.models import (
    ModelInfo,
    create_model,
    list_models,
    model_info,
    register_model,
    unregister_model,
)


def test_wildcards() -> None:
    assert list_models("edsr*") == ["edsr", "edsr-baseline"]
    assert set(list_models("srcnn*")) >= {"srcnn", "srcnn-ex", "srcnn-pre", "srcnn-post"}
    assert list_models("EDSR") == ["edsr"]
    assert list_models("no-such-*") == []
    assert list_models() == sorted(list_models())


def test_kind_filter() -> None:
    multi = list_models(kind="multi")
    assert {"highres-net", "rams", "wdsr3d"} <= set(multi)
    assert all(model_info(n).multi_frame for n in multi)
    assert "edsr" in list_models(kind="single")
    assert set(list_models(kind="baseline")) == {"bicubic", "bilinear", "mean-bicubic"}


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(ModelNotFoundError, match=r"did you mean.*edsr") as exc:
        create_model("edrs")
    assert isinstance(exc.value, SatsrError)
    assert "`satsr models`" in str(exc.value)
    with pytest.raises(ModelNotFoundError) as exc2:
        model_info("zzzzzzzz")
    assert "did you mean" not in str(exc2.value)


def test_fact_filters() -> None:
    assert set(list_models(adversarial=True)) == {"rrdbnet", "rrdn", "srgan"}
    assert set(list_models(learned=False)) == {"bicubic", "bilinear", "mean-bicubic"}
    assert list_models(multi_frame=True, learned=True) == list_models(kind="multi")
    assert "edsr" not in list_models("edsr*", exclude="edsr")
    assert list_models(module="satsr.models.edsr") == ["edsr", "edsr-baseline"]


def test_names_are_case_insensitive_on_lookup() -> None:
    assert model_info("RDN").name == "rdn"


def test_broken_module_does_not_break_listing() -> None:
    """Modules load lazily: a model whose module cannot be imported is still listed, and only
    creating it fails, with a one-line SatsrError."""
    register_model(ModelInfo(name="broken-net", entrypoint="satsr.models.no_such_module:net",
                             kind="single", paper="none", year=2024))
    register_model(ModelInfo(name="needs-extra", entrypoint="no_such_package.nets:net",
                             kind="single", paper="none", year=2024))
    try:
        assert {"broken-net", "needs-extra", "edsr"} <= set(list_models())
        with pytest.raises(ConfigError, match="broken-net"):
            create_model("broken-net")
        with pytest.raises(ConfigError, match="needs the missing package 'no_such_package'"):
            create_model("needs-extra")
        assert create_model("srcnn", scale=2) is not None
    finally:
        unregister_model("broken-net")
        unregister_model("needs-extra")


def test_register_rejects_duplicates_and_upper_case() -> None:
    with pytest.raises(ValueError, match="twice"):
        register_model(model_info("edsr"))
    with pytest.raises(ValueError, match="lower-case"):
        register_model(ModelInfo(name="Net", entrypoint="x:y", kind="single", paper="p",
                                 year=2024))


def test_presets_and_overrides() -> None:
    small = create_model("edsr", preset="small", scale=2)
    assert small.hparams["n_blocks"] == model_info("edsr").presets["small"]["n_blocks"]
    over = create_model("edsr", preset="small", scale=2, n_blocks=1)
    assert over.hparams["n_blocks"] == 1
    assert over.model_name == "edsr" and over.scale == 2
    default = create_model("edsr-baseline", preset="default", scale=2)
    assert default.hparams["features"] == 64


def test_bad_preset_and_hparam_give_config_errors() -> None:
    with pytest.raises(ConfigError, match="no preset 'huge'"):
        create_model("edsr", preset="huge")
    with pytest.raises(ConfigError, match="bad hyper-parameters"):
        create_model("edsr", preset="small", not_a_param=3)


@pytest.mark.parametrize("name", ["rams", "wdsr3d"])
def test_temporal_reduction_models_reject_even_frame_counts(name: str) -> None:
    with pytest.raises(ConfigError, match="odd num_frames"):
        create_model(name, preset="small", num_frames=8)


def _zoo_page() -> str:
    """The generated model zoo page (docs/hooks/model_zoo.py), without building the site."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "docs" / "hooks" / "model_zoo.py"
    spec = importlib.util.spec_from_file_location("satsr_docs_model_zoo", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.zoo_page())


def test_every_shipped_model_has_a_reference_a_receptive_field_and_a_docs_entry() -> None:
    """The 'add a model' checklist of docs/architecture.md, enforced."""
    page = _zoo_page()
    for name in list_models(module="satsr.*"):
        info = model_info(name)
        assert info.paper and info.year > 1900, name
        assert info.url.startswith("https://"), f"{name}: reference URL missing"
        assert info.rf is not None and info.receptive_field % 2 == 1, name
        assert info.multi_frame is not None, name
        section = page.split(f"## {name}\n", 1)
        assert len(section) == 2, f"{name}: no section on the model zoo page"
        assert f"**Receptive field** (default configuration, ×3): {info.receptive_field} " \
            in section[1].split("\n## ", 1)[0], name


def test_every_model_names_its_reference_implementation() -> None:
    """A name means one reference implementation: every entry says which, with a link, and
    builds at that reference configuration."""
    import torch

    from satsr.models import count_parameters, create_model

    for name in list_models():
        ref = model_info(name).reference
        assert ref is not None and ref.code and ref.url.startswith("https://"), name
        with torch.device("meta"):
            model = create_model(name, scale=ref.scale, in_channels=ref.in_channels,
                                 **ref.config)
        assert count_parameters(model) >= 0
