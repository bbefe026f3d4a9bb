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


def _flag(timing: dict[str, Any]) -> str:
    """`` ⚠`` after a number whose repeated timings spread more than ±20 %."""
    return " ⚠" if timing.get("noisy") else ""


def _machine(res: dict[str, Any], what: str) -> str:
    m = res["machine"]
    shared = (f"; the machine was **shared** while timing (load average "
              f"{m['load_average'][0]} on {m['cpus']} CPUs), so wall-clock numbers are noisy"
              if m["shared"] else "")
    return (f"*{what}. satsr {m['satsr']}, torch {m['torch']}, NumPy {m['numpy']}, Python "
            f"{m['python']}, {m['cpu']} ({m['cpus']} CPUs){shared}. Medians of "
            f"{res['rounds']} runs after a warm-up; ⚠ = spread over ±20 %.*")


def cpsnr_table(res: dict[str, Any]) -> str:
    """Markdown for ``cpsnr.json``: images/s and ratio vs the numba loop per case."""
    rows = ["| case | numba loop (img/s) | satsr, 1 thread (img/s) | ratio | CPU-time ratio | "
            "satsr, 2 threads (img/s) | ratio | share of the bound (1 thread) | max diff (dB) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for c in res["cases"]:
        ips, r, t = c["images_per_s"], c["ratio_vs_numba"], c["timings"]
        rows.append(
            f"| {c['case']} | {ips['numba_1t']:,.1f}{_flag(t['numba_1t'])} | "
            f"{ips['satsr_1t']:,.1f}{_flag(t['satsr_1t'])} | {r['satsr_1t']}× | "
            f"{c['ratio_vs_numba_cpu']['satsr_1t']}× | "
            f"{ips['satsr_2t']:,.1f}{_flag(t['satsr_2t'])} | {r['satsr_2t']}× | "
            f"{100 * c['fraction_of_bound']['satsr_1t']:.0f} % of {c['bound_ms_per_image']} ms | "
            f"{c['max_abs_diff_db']:.1e} |")
    return "\n".join([*rows, "", *(f"{x}\n" for x in _cpsnr_verdict(res)),
                      _machine(res, f"numba {res['numba']}")])


def _span(values: list[float]) -> str:
    """``a×`` or ``a–b×`` for a list of ratios."""
    lo, hi = min(values), max(values)
    return f"{lo}×" if lo == hi else f"{lo}–{hi}×"


def _cpsnr_verdict(res: dict[str, Any]) -> list[str]:
    """Sentences stating, from the JSON, how far each thread count is from the target."""
    target, cases = res["target_ratio"], res["cases"]
    lines = []
    for key, label in (("satsr_1t", "one thread"), ("satsr_2t", "two threads")):
        ratios = [c["ratio_vs_numba"][key] for c in cases]
        met = sum(r >= target for r in ratios)
        verdict = "met" if met == len(ratios) else f"**not met** ({met} of {len(ratios)} cases)"
        lines.append(f"On {label} satsr runs at **{_span(ratios)}** the numba loop; the target "
                     f"of {target:g}× is {verdict}.")
    agree = max(c["max_abs_diff_db"] for c in cases)
    lines.append(f"Largest disagreement with the reference loop: {agree:.1e} dB.")
    return lines


def losses_table(res: dict[str, Any]) -> str:
    """Markdown for ``losses.json``: forward+backward ms per batch and ratio vs MSE."""
    names = list(res["rows"][0]["ms"])
    head = " | ".join(f"{n} (ms) | ×MSE" for n in names)
    rows = [f"| batch | {head} |", "|---|" + "---:|---:|" * len(names)]
    for r in res["rows"]:
        cells = " | ".join(f"{r['ms'][n]:,.1f}{_flag(r['timings'][n])} | "
                           f"{r['ratio_vs_mse'][n]}×" for n in names)
        rows.append(f"| {'×'.join(map(str, r['batch']))} | {cells} |")
    worst = max(r["ratio_vs_mse"][k] for r in res["rows"] for k in ("cmse", "cl1"))
    met = [f"{'×'.join(map(str, r['batch']))}" for r in res["rows"]
           if max(r["ratio_vs_mse"][k] for k in ("cmse", "cl1")) <= res["target_ratio"]]
    verdict = ("met" if worst <= res["target_ratio"] else
               f"**not met** (met on {', '.join(met)})" if met else "**not met**")
    line = (f"cMSE and cL1 cost at most **{worst}×** plain MSE; the target of "
            f"≤ {res['target_ratio']:g}× is {verdict}.")
    return "\n".join([*rows, "", line, "", _machine(res, f"float32, {res['threads']} thread(s)")])


def probav_loading_table(res: dict[str, Any]) -> str:
    """Markdown for ``probav_loading.json``: read paths, then the storage options."""
    labels = {"png": "decoding the PNGs", "zarr_dask": "prepared store, dask",
              "zarr": "prepared store, no dask (training's path)"}
    rows = ["| read path | scenes/s | ×PNG | scenes per CPU-second | ×PNG (CPU) |",
            "|---|---:|---:|---:|---:|"]
    for k, label in labels.items():
        rows.append(f"| {label} | {res['scenes_per_s'][k]:,.1f}{_flag(res['timings'][k])} | "
                    f"{res['ratio_vs_png'][k]}× | {res['scenes_per_cpu_s'][k]:,.1f} | "
                    f"{res['ratio_vs_png_cpu'][k]}× |")
    opts = ["| codec | scenes/chunk | dtype on disk | MB/scene | scenes/s | scenes per "
            "CPU-second |", "|---|---:|---|---:|---:|---:|"]
    for o in res["storage_options"]:
        opts.append(f"| {o['codec']} | {o['scenes_per_chunk']} | {o['dtype_on_disk']} | "
                    f"{o['mb_per_scene']} | {o['scenes_per_s']:,.1f}{_flag(o['timing'])} | "
                    f"{o['scenes_per_cpu_s']:,.1f} |")
    best = max(res["ratio_vs_png"][k] for k in ("zarr", "zarr_dask"))
    verdict = "met" if best >= res["target_ratio"] else "**not met**"
    lines = [f"Fastest prepared path: **{best}×** decoding the PNGs (wall clock); the target of "
             f"{res['target_ratio']:g}× is {verdict}."]
    if "read_checks" in res:
        c = res["read_checks"]
        lines.append(f"Checking every chunk file of both stores ({c['mb']} MB): crc32c "
                     f"{c['crc32c_ms']} ms (every read), sha256 {c['sha256_ms']} ms (`satsr "
                     "datasets verify`).")
    return "\n".join([*rows, "", *opts, "", *(f"{x}\n" for x in lines),
                      _machine(res, f"{res['scenes']} scenes")])


def train_loop_table(res: dict[str, Any]) -> str:
    """Markdown for ``train_loop.json``: steps/s of ``satsr train`` and of the bare loop."""
    flag = " ⚠" if res["satsr_noisy"] else ""
    rows = ["| loop | steps/s |", "|---|---:|",
            f"| `satsr train` ({res['model']}, {res['preset']}) | "
            f"{res['satsr_steps_per_s']}{flag} |",
            f"| bare forward/backward/Adam over pre-loaded batches | "
            f"{res['bare_steps_per_s']}{_flag(res['bare'])} |",
            f"| ratio | **{res['ratio_satsr_over_bare']}** |",
            f"| ratio of CPU time | {res['ratio_satsr_over_bare_cpu']} |",
            f"| validation (once, excluded) | {res['validation_s']} s |",
            f"| checkpoint (once, excluded) | {res['checkpoint_s']} s |"]
    return "\n".join([*rows, "", _machine(res, f"{res['steps']} steps, "
                                               f"{res['threads']} thread(s)")])


def gan_step_table(res: dict[str, Any]) -> str:
    """Markdown for ``gan_step.json``: GAN steps/s with the 8-conv and the small discriminator."""
    labels = {"vgg": "GAN, 8-conv VGG discriminator (`--disc vgg`)",
              "small": "GAN, small discriminator (`--disc small`)",
              "pixel": "pixel loss only (no GAN)"}
    rows = ["| step | steps/s |", "|---|---:|"]
    rows += [f"| {labels[s]} | {res['steps_per_s'][s]}{_flag(res['timings'][s])} |"
             for s in labels]
    rows += [f"| ratio vgg / small | **{res['ratio_vgg_over_small']}** |",
             f"| ratio vgg / small, CPU time | {res['ratio_vgg_over_small_cpu']} |",
             f"| ratio vgg / pixel | {res['ratio_vgg_over_pixel']} |"]
    return "\n".join([*rows, "", _machine(res, f"{res['steps']} steps x {res['rounds']} "
                                               f"rounds, n_critic {res['n_critic']}, "
                                               f"{res['threads']} thread(s)")])


RENDERERS = {"coregister": coregister_table, "cpsnr": cpsnr_table, "losses": losses_table,
             "probav_loading": probav_loading_table, "train_loop": train_loop_table,
             "gan_step": gan_step_table}


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
