"""Scene-by-scene comparison of two models from a results folder (``satsr report --compare``).

For each dataset × band × split that both models were scored on, the per-scene metric of model A
is paired with model B's on the same scenes: the table reports the number of paired scenes, the
mean of A and of B, the mean difference A − B with a 95 % paired bootstrap interval (scenes are
resampled with replacement, 10,000 resamples, fixed seed: the interval is reproducible), and the
share of scenes where A is better (ties count half). For cPSNR/PSNR/SSIM higher is better; for
the PROBA-V score lower is better, and "A better" follows that direction.

A paired comparison is the right test when two models see the same scenes: scene difficulty
varies far more than the gap between good models, and pairing removes it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from satsr._atomic import write_text, write_via
from satsr._paths import safe_name
from satsr.errors import ConfigError

#: Metrics that can be compared, and whether higher values are better.
HIGHER_IS_BETTER: dict[str, bool] = {"cpsnr": True, "psnr": True, "ssim": True, "score": False}
N_BOOTSTRAP = 10_000
SEED = 0


@dataclass(frozen=True)
class Comparison:
    """The paired comparison of model ``a`` against model ``b`` on one table."""

    dataset: str
    band: str
    split: str
    metric: str
    a: str
    b: str
    n_scenes: int
    mean_a: float
    mean_b: float
    mean_diff: float
    ci_low: float
    ci_high: float
    a_wins: float  # share of scenes where A is better (ties count half)


def paired_bootstrap_ci(diff: np.ndarray, *, n_boot: int = N_BOOTSTRAP, seed: int = SEED,
                        level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of paired differences ``diff`` (scenes resampled
    with replacement). NaN bounds for fewer than two scenes."""
    if diff.size < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, diff.size, size=(n_boot, diff.size))
    means = diff[idx].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def win_share(diff: np.ndarray, higher_is_better: bool) -> float:
    """Share of scenes where A is better than B (ties count half)."""
    signed = diff if higher_is_better else -diff
    return float(((signed > 0).sum() + 0.5 * (signed == 0).sum()) / diff.size)


def compare_models(records: pd.DataFrame, a: str, b: str, metric: str = "cpsnr"
                   ) -> list[Comparison]:
    """Paired per-scene comparisons of model ``a`` against ``b``, one per shared table.

    Raises :class:`ConfigError` when a model is absent from the records, the metric is unknown,
    or the two models share no scored scene.
    """
    if metric not in HIGHER_IS_BETTER:
        raise ConfigError(f"cannot compare on {metric!r}; choose one of "
                          f"{', '.join(HIGHER_IS_BETTER)}")
    if a == b:
        raise ConfigError(f"--compare needs two different models, got {a!r} twice")
    present = set(records["model"])
    for name in (a, b):
        if name not in present:
            raise ConfigError(f"model {name!r} has no records in this results folder; it holds "
                              f"{', '.join(sorted(present)) or 'no models'}")
    out: list[Comparison] = []
    for (dataset, band, split), group in records.groupby(["dataset", "band", "split"], sort=True):
        wide = group.pivot_table(index="scene", columns="model", values=metric, aggfunc="mean")
        if a not in wide.columns or b not in wide.columns:
            continue
        pair = wide[[a, b]].dropna()
        pair = pair[np.isfinite(pair.to_numpy(dtype=float)).all(axis=1)]
        if pair.empty:
            continue
        va, vb = pair[a].to_numpy(dtype=float), pair[b].to_numpy(dtype=float)
        diff = va - vb
        lo, hi = paired_bootstrap_ci(diff)
        out.append(Comparison(str(dataset), str(band), str(split), metric, a, b, int(diff.size),
                              float(va.mean()), float(vb.mean()), float(diff.mean()), lo, hi,
                              win_share(diff, HIGHER_IS_BETTER[metric])))
    if not out:
        raise ConfigError(f"models {a!r} and {b!r} share no scored scene with a finite "
                          f"{metric}; bench both on the same dataset first")
    return out


def comparison_frame(comparisons: list[Comparison]) -> pd.DataFrame:
    """The comparisons as a DataFrame (one row per table)."""
    return pd.DataFrame([asdict(c) for c in comparisons])


def comparison_markdown(comparisons: list[Comparison]) -> str:
    """A Markdown table of the comparisons, with the reading direction stated."""
    first = comparisons[0]
    better = "higher" if HIGHER_IS_BETTER[first.metric] else "lower"
    lines = [f"Paired per-scene {first.metric} of **{first.a}** (A) against **{first.b}** (B); "
             f"{better} is better. Δ = A − B with a 95 % paired bootstrap interval over scenes "
             f"({N_BOOTSTRAP:,} resamples); 'A better' is the share of scenes where A wins.",
             "",
             "| Dataset | Band | Split | Scenes | A | B | Δ (A − B) | 95 % CI | A better |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for c in comparisons:
        ci = "—" if np.isnan(c.ci_low) else f"[{c.ci_low:+.4f}, {c.ci_high:+.4f}]"
        lines.append(f"| {c.dataset} | {c.band} | {c.split} | {c.n_scenes} | {c.mean_a:.4f} | "
                     f"{c.mean_b:.4f} | {c.mean_diff:+.4f} | {ci} | {100 * c.a_wins:.1f} % |")
    return "\n".join(lines) + "\n"


def comparison_plot(records: pd.DataFrame, comparison: Comparison, path: Path) -> Path:
    """Per-scene scatter of A (y) against B (x) with y = x, written as PNG to ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    c = comparison
    sel = records[(records["dataset"] == c.dataset) & (records["band"] == c.band)
                  & (records["split"] == c.split)]
    wide = sel.pivot_table(index="scene", columns="model", values=c.metric, aggfunc="mean")
    pair = wide[[c.a, c.b]].dropna()
    fig = Figure(figsize=(5.2, 5.0), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x, y = pair[c.b].to_numpy(dtype=float), pair[c.a].to_numpy(dtype=float)
    ax.scatter(x, y, s=24, alpha=0.85, label=f"{c.n_scenes} scenes")
    lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
    pad = max(1e-3, 0.04 * (hi - lo))
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.3", lw=1, ls="--", label="y = x")
    ax.set_xlabel(f"{c.b} {c.metric}")
    ax.set_ylabel(f"{c.a} {c.metric}")
    ax.set_title(f"{c.dataset} · {c.band} · {c.split}: {c.a} vs {c.b}")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    write_via(path, lambda p: fig.savefig(p, format="png"))
    return path


def write_comparison(records: pd.DataFrame, a: str, b: str, out_dir: Path,
                     metric: str = "cpsnr") -> tuple[list[Comparison], list[Path]]:
    """Compare ``a`` with ``b`` and write ``compare/<a>_vs_<b>.{md,csv}`` and one scatter plot
    per table under ``out_dir`` (locked meanwhile); returns the comparisons and the written
    paths."""
    from satsr._lock import output_lock
    from satsr.bench.report import table_slug

    comparisons = compare_models(records, a, b, metric)
    stem = f"{safe_name(a)}_vs_{safe_name(b)}_{metric}"
    folder = out_dir / "compare"
    md, csv = folder / f"{stem}.md", folder / f"{stem}.csv"
    with output_lock(out_dir):  # one writer per output folder, as bench and report
        write_text(md, comparison_markdown(comparisons))
        write_text(csv, comparison_frame(comparisons).to_csv(index=False))
        written = [md, csv]
        for c in comparisons:
            slug = table_slug({"dataset": c.dataset, "band": c.band, "split": c.split})
            written.append(comparison_plot(records, c, folder / f"{stem}_{slug}.png"))
    return comparisons, written
