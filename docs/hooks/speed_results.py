"""mkdocs hook: speed-benchmark tables rendered from ``benchmarks/results_speed/*.json`` at build
time, so the numbers in the docs are always those of the committed results.

A page places ``<!-- satsr:speed coregister -->`` where the table goes; the name is a results
file. A missing or malformed results file fails the build naming the file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results_speed"
MARKER = re.compile(r"<!-- satsr:speed (\w+) -->")
COREG_LABELS = {
    "satsr_full": "satsr, full (what `satsr fetch` runs)",
    "satsr_full_lr": "satsr, full, LR-only refinement",
    "satsr_pc": "satsr, phase correlation only",
    "skimage_u20": "skimage, upsample 20",
    "skimage_u100": "skimage, upsample 100",
    "skimage_window_u20": "skimage, upsample 20, satsr's window",
}


def coregister_table(res: dict[str, Any]) -> str:
    """Markdown for ``coregister.json``: one row per chip size × method, then the speed-up of
    satsr at equal accuracy against every skimage variant."""
    rows = ["| chip | method | chips/s | median error (LR px) | p95 error (LR px) |",
            "|---|---|---:|---:|---:|"]
    pairs = []
    for chip, size in res["chip_sizes"].items():
        for name, m in size["methods"].items():
            rows.append(f"| {chip} px | {COREG_LABELS.get(name, name)} | {m['chips_per_s']:,.0f} | "
                        f"{m['median_err_px']:.3f} | {m['p95_err_px']:.3f} |")
        for sk, p in size["equal_accuracy"].items():
            ours = COREG_LABELS.get(p["satsr_method"], "—") if p["satsr_method"] else "none"
            speed = f"**{p['speedup']}×**" if sk == size["most_accurate_skimage"] else f"{p['speedup']}×"
            pairs.append(f"| {chip} px | {COREG_LABELS.get(sk, sk)} | {ours} | {speed} |")
    eq = ["| chip | skimage variant | fastest satsr method at least as accurate | speed-up |",
          "|---|---|---|---:|", *pairs]
    meta = (f"satsr {res['satsr_version']}, torch {res.get('torch', '?')}, Python "
            f"{res['python']}, {res['machine']}, {res['threads']} thread, offsets "
            f"{res['offsets']}, equal accuracy within {res['equal_accuracy_tolerance_px']} px.")
    return "\n".join([*rows, "", *eq, "", f"*{meta}*"])


RENDERERS = {"coregister": coregister_table}


def render(name: str, results: Path = RESULTS) -> str:
    """The Markdown for results file ``results/name.json`` (PluginError naming the problem)."""
    path = results / f"{name}.json"
    if name not in RENDERERS:
        raise PluginError(f"no renderer for speed results {name!r} (known: {sorted(RENDERERS)})")
    try:
        return RENDERERS[name](json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PluginError(f"{path}: cannot render the speed results ({type(exc).__name__}: "
                          f"{exc}); rerun benchmarks/bench_{name}.py") from exc


def on_page_markdown(markdown: str, **_: Any) -> str:
    return MARKER.sub(lambda m: render(m.group(1)), markdown)
