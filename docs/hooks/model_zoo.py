"""mkdocs hook: the model zoo page (``models/zoo.md``), generated from the model registry.

Iterates :func:`satsr.models.list_models`, reads :func:`~satsr.models.model_info` and counts
parameters of the default configuration with ``count_parameters(create_model(name))``, so a
newly registered model appears on the next build with no edit to the docs.
"""

from __future__ import annotations

import json
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

KIND_LABEL = {"baseline": "interpolation baseline", "single": "single-image",
              "multi": "multi-frame"}


def _config(params: dict[str, Any]) -> str:
    if not params:
        return "—"
    return "<br>".join(f"`{k}={json.dumps(v)}`" for k, v in params.items())


def zoo_page() -> str:
    """The Markdown of the model zoo page."""
    import torch

    from satsr.errors import SatsrError
    from satsr.models import count_parameters, create_model, list_models, model_info
    from satsr.models.weights import pretrained

    def n_params(name: str, preset: str | None = None, *, scale: int = 3, bands: int = 1,
                 **config: Any) -> str:
        """Parameters (×3, one band unless given); built on the meta device (no weights)."""
        try:
            with torch.device("meta"):
                model = create_model(name, preset=preset, scale=scale, in_channels=bands,
                                     **config)
                return f"{count_parameters(model):,}"
        except SatsrError as exc:  # e.g. an optional dependency is missing
            return f"n/a ({exc})"

    def reference(name: str) -> tuple[str, str]:
        """(Markdown link to the reference implementation, its parameter count)."""
        ref = model_info(name).reference
        if ref is None:
            return "—", "—"
        mark = " (our reading; no code published)" if ref.interpretation else ""
        count = n_params(name, scale=ref.scale, bands=ref.in_channels, **ref.config)
        where = f"×{ref.scale}, {ref.in_channels} band{'s' if ref.in_channels > 1 else ''}"
        return f"[{ref.code}]({ref.url}){mark}", f"{count} ({where})"

    def shipped(name: str) -> str:
        return "yes (sample)" if pretrained(name, "sample") is not None else "—"

    names = list_models()
    lines = ["# Model zoo", "",
             f"{len(names)} models are registered. This page is generated from the registry "
             "(`satsr.models.list_models()`) at build time; `satsr models` prints the same "
             "table. Parameters are counted for the default (published) configuration at scale "
             "×3, one band; presets such as `small` are CPU-sized variants.", "",
             "```python",
             "from satsr.models import create_model",
             "model = create_model(\"mean-bicubic\", scale=3, in_channels=1)",
             "sr = model(lr, lr_mask)  # lr (B, T, C, h, w) → sr (B, C, 3h, 3w)",
             "```", "",
             "Each name reproduces one reference implementation (**Reference**); its parameter "
             "count is given at the reference configuration (scale and bands of the published "
             "model), which the test suite asserts where the reference publishes one. A variant "
             "of a reference gets its own name (`rdn` is ISR's RDN, `rdn-paper` the paper's).",
             "",
             "| Model | Kind | Reference | Parameters (reference config.) | Parameters (`small`) "
             "| Shipped weights |",
             "|:---|:---|:---|---:|---:|:---|"]
    details = []
    for name in names:
        info = model_info(name)
        n = n_params(name)
        small = n_params(name, "small") if "small" in info.presets else "—"
        paper = f"[{info.paper}]({info.url})" if info.url else info.paper
        ref_link, ref_count = reference(name)
        lines.append(f"| [`{name}`](#{name}) | {KIND_LABEL.get(info.kind, info.kind)} | "
                     f"{ref_link} | {ref_count} | {small} | {shipped(name)} |")
        details += [f"## {name}", "", info.description or "", "",
                    f"- **Kind**: {KIND_LABEL.get(info.kind, info.kind)}"
                    f"{'' if info.learned else ' (not learned)'}"
                    f"{', trained adversarially by default' if info.adversarial else ''}",
                    f"- **Parameters** (default configuration): {n}",
                    f"- **Paper**: {paper} ({info.year})",
                    f"- **Reference implementation**: {ref_link}; {ref_count} parameters",
                    f"- **Shipped weights**: {shipped(name)}",
                    f"- **Receptive field** (default configuration, ×3): "
                    f"{info.receptive_field} LR pixels (a tile needs a halo of "
                    f"{info.receptive_field // 2})"
                    + ("; also uses whole-image statistics" if info.global_context else ""),
                    f"- **Default configuration**: {_config(info.defaults)}"]
        for preset, params in info.presets.items():
            details.append(f"- **Preset `{preset}`** ({n_params(name, preset)} parameters): "
                           f"{_config(params)}")
        details += [f"- **Create**: `create_model(\"{name}\")`", ""]
    return "\n".join([*lines, "", *details])


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated ``models/zoo.md``."""
    files.append(File.generated(config, "models/zoo.md", content=zoo_page()))
    return files
