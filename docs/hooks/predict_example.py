"""mkdocs hook: the figure and table of the ``satsr predict`` worked example, rendered at build
time from the committed outputs of ``docs/examples/predict_unalakleet.py``.

A page places ``<!-- satsr:predict-example -->`` where the figure and table go. The figure is
drawn by :func:`satsr.viz.compare_static` (one shared stretch) into the site as
``guides/predict_unalakleet.png``. ``<!-- satsr:predict-speed -->`` becomes the table of
``benchmarks/results_speed/predict.json`` (``benchmarks/bench_predict.py``). Missing or
malformed outputs fail the build naming the file.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

OUTPUTS = Path(__file__).resolve().parents[1] / "examples" / "outputs"
MARKER = re.compile(r"<!-- satsr:predict-example -->")
SPEED_MARKER = re.compile(r"<!-- satsr:predict-speed -->")
SPEED = Path(__file__).resolve().parents[2] / "benchmarks" / "results_speed" / "predict.json"
FIGURE = "guides/predict_unalakleet.png"
LABELS = {"lr": "Landsat-9 NIR, 30 m (input)", "sr_bicubic": "bicubic ×3, 10 m",
          "sr_edsr-baseline": "edsr-baseline ×3, 10 m", "s2": "Sentinel-2 NIR, 10 m"}


def _load() -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    npz, js = OUTPUTS / "predict_unalakleet.npz", OUTPUTS / "predict_unalakleet.json"
    try:
        with np.load(npz) as f:
            arrays = {k: f[k] for k in LABELS}
        return arrays, json.loads(js.read_text())
    except (OSError, KeyError, ValueError) as exc:
        raise PluginError(f"{npz.parent}: cannot read the predict example outputs "
                          f"({type(exc).__name__}: {exc}); rerun "
                          "docs/examples/predict_unalakleet.py") from exc


def render_figure(path: Path) -> Path:
    """Draw the comparison strip into ``path``."""
    from satsr.viz import Layer, compare_static

    arrays, _ = _load()
    layers = [Layer(LABELS[k], v.astype(np.float32)) for k, v in arrays.items()]
    compare_static(layers, path=path, width=3.2)
    return path


def table() -> str:
    """Markdown table of the example's scores against Sentinel-2."""
    _, meta = _load()
    rows = ["| model | tiles | halo (LR px) | PSNR vs S2 (dB) | cPSNR vs S2 (dB) |",
            "|---|---:|---:|---:|---:|"]
    for m in meta["models"].values():
        rows.append(f"| `{m['model']}` | {m['tiles']} | {m['halo']} | {m['psnr']:.2f} | "
                    f"{m['cpsnr']:.2f} |")
    size = "×".join(map(str, meta["lr_size"]))
    return "\n".join([*rows, "", f"*{meta['lr']} ({size} px) → ×3; reference: {meta['hr']}. "
                      f"{meta['note']}. satsr {meta['satsr_version']}.*"])


def _speed_row(r: dict[str, Any], label: str) -> str:
    return (f"| {r['size_lr_px']:,}² px | {label} | {r['n_tiles']:,} ({r['tile']}/{r['halo']}) | "
            f"{r['peak_rss_gb']:.2f} GB | {r['tiles_per_s']:.3g} | {r['lr_mpx_per_s']:.3g} | "
            f"{r['sr_mpx_per_s']:.3g} | {r['ratio_tile_loop_vs_bare']:.2f}× | "
            f"{r['ratio_end_to_end_vs_bare']:.2f}× | {r['end_to_end_s'] / 60:.1f} min |")


def _speed_footer(r: dict[str, Any]) -> str:
    m, head = r["machine"], r["headline"]
    target = f"{r['target_size_lr_px']:,}²"
    if r["target_measured"]:
        reach = f"{target} px measured."
    else:
        reach = (f"{target} px with the network was not run here: at the largest run's end-to-end "
                 f"rate it would take about {r['target_estimate_s'] / 3600:.1f} h.")
    return (f"{r['model']}, batch {head['batch']}, {head['threads']} torch thread(s), nice "
            f"{r['nice']}; bare loop over "
            f"{' / '.join(str(x['bare_sample_tiles']) for x in r['runs'])} sampled tiles "
            f"(by size), before and after (per-tile rates compared). {reach} satsr {r['satsr_version']}, "
            f"torch {r['torch']}, {m['cpu']} ({m['cpus']} CPUs, load average "
            f"{m['load_average'][0]} at the end{', **shared**' if m['shared'] else ''}). "
            f"{r['note']}")


def speed_table(path: Path = SPEED) -> str:
    """Markdown for the predict benchmark (PluginError naming the file when unreadable): one
    row per raster size, plus the bicubic I/O memory check when it ran."""
    try:
        r = json.loads(path.read_text())
        rows = ["| LR raster | model | tiles (tile/halo) | peak RSS | tiles/s | LR Mpx/s | "
                "SR Mpx/s | vs bare loop: tiles | end to end | wall time |",
                "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        rows += [_speed_row(run, f"`{run['model']}`") for run in r["runs"]]
        if r.get("io_check"):
            rows.append(_speed_row(r["io_check"], "`bicubic` (I/O memory check)"))
        footer = _speed_footer(r)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PluginError(f"{path}: cannot render the predict benchmark ({type(exc).__name__}: "
                          f"{exc}); rerun benchmarks/bench_predict.py") from exc
    return "\n".join([*rows, "", f"*{footer}*"])


def on_files(files: Files, config: MkDocsConfig) -> Files:
    tmp = Path(tempfile.mkdtemp(prefix="satsr-docs-")) / "predict_unalakleet.png"
    render_figure(tmp)
    files.append(File.generated(config, FIGURE, abs_src_path=str(tmp)))
    return files


def on_page_markdown(markdown: str, **_: Any) -> str:
    figure = "![LR, SR and Sentinel-2 side by side](predict_unalakleet.png)"
    markdown = SPEED_MARKER.sub(lambda _m: speed_table(), markdown)
    return MARKER.sub(lambda _m: f"{figure}\n\n{table()}", markdown)
