"""mkdocs hook: the leaderboard, generated at build time from benchmark results folders.

Sources (nothing is typed into the docs by hand):

- every results folder (one holding ``summary.json``) directly under ``benchmarks/results/``,
  plus the roots or folders listed in ``$SATSR_LEADERBOARD_RESULTS`` (``os.pathsep``-separated);
- ``benchmarks/literature/*.yaml``: published numbers, each with its source URL.

Pages: ``leaderboard/index.md`` (overview), ``leaderboard/<dataset>.md`` (one sortable table per
band × split with every run's rows, scatter plots and visual strips copied from the results
folders), ``leaderboard/runs.md`` (provenance) and ``leaderboard/literature.md``. The Leaderboard
entry of ``nav`` is expanded to list them. Invalid results fail the build with a message naming
the file and the field (:func:`satsr.bench.results.validate_summary`), as does a table without a
``bicubic`` row, or without ``mean-bicubic`` when the dataset is multi-frame.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from markdown.extensions.toc import slugify
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

from satsr.bench.report import (
    COLUMNS,
    format_value,
    is_missing,
    per_band_markdown,
    provenance_line,
    sort_value,
    table_slug,
)
from satsr.bench.results import ResultsSchemaError, find_results, load_summary

ENV_VAR = "SATSR_LEADERBOARD_RESULTS"
PAGE_DIR = "leaderboard"
LITERATURE_FIELDS = ("method", "paper", "year", "paper_url", "evaluated_on", "source_url")
LITERATURE_METRICS = ("score", "cpsnr", "ssim")


@dataclass
class Run:
    """One results folder: its validated summary and where its files live."""

    folder: Path
    summary: dict[str, Any]
    key: str  # unique, URL-safe name used for copied assets

    @property
    def source(self) -> str:
        return str(self.folder / "summary.json")


@dataclass
class Leaderboard:
    """Everything the pages are rendered from (built in ``on_config``)."""

    runs: list[Run] = field(default_factory=list)
    literature: list[tuple[Path, dict[str, Any]]] = field(default_factory=list)

    def datasets(self) -> list[str]:
        """Dataset names, REAL ones first (then alphabetical)."""
        names = {str(t["dataset"]) for r in self.runs for t in r.summary["tables"]}
        return sorted(names, key=lambda n: (self.synthetic(n), n))

    def synthetic(self, dataset: str) -> bool:
        """Whether any run of ``dataset`` is marked synthetic."""
        return any(r.summary["dataset"].get("synthetic") for r in self.runs
                   if any(str(t["dataset"]) == dataset for t in r.summary["tables"]))


STATE = Leaderboard()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "x"


def result_roots(config_dir: Path) -> list[Path]:
    """``benchmarks/results`` next to mkdocs.yml plus the entries of ``$SATSR_LEADERBOARD_RESULTS``."""
    roots = [config_dir / "benchmarks" / "results"]
    extra = [Path(p).expanduser() for p in os.environ.get(ENV_VAR, "").split(os.pathsep)
             if p.strip()]
    for path in extra:
        if not path.is_dir():
            raise PluginError(f"${ENV_VAR} names {path}, which is not a folder")
    return roots + extra


def check_run(run: Run) -> None:
    """Leaderboard rules on top of the schema: baseline rows present, listed plots exist.

    ``mean-bicubic`` is required when the summary marks the dataset ``multi_frame``.
    """
    multi = bool(run.summary["dataset"].get("multi_frame", False))
    for i, table in enumerate(run.summary["tables"]):
        models = {str(r["model"]) for r in table["rows"]}
        where = f"{table['dataset']}/{table['band']}/{table['split']}"
        if "bicubic" not in models:
            raise PluginError(
                f"{run.source}: field 'tables[{i}].rows' (table {where}) has no 'bicubic' row; "
                "every leaderboard table needs it (re-run `satsr bench` with bicubic in --models)")
        if multi and "mean-bicubic" not in models:
            raise PluginError(
                f"{run.source}: field 'tables[{i}].rows' (table {where}) has no 'mean-bicubic' "
                "row but the dataset is multi-frame (re-run `satsr bench` with mean-bicubic)")
    for kind in ("scatter", "strips"):
        for j, rel in enumerate(run.summary["plots"].get(kind, [])):
            if not (run.folder / rel).is_file():
                raise PluginError(f"{run.source}: field 'plots.{kind}[{j}]' names {rel!r}, "
                                  "which does not exist in the results folder")


def load_runs(roots: list[Path]) -> list[Run]:
    """Validated runs under ``roots`` (each root is a results folder or holds several)."""
    runs: list[Run] = []
    keys: set[str] = set()
    for root in roots:
        if not root.exists():
            continue
        for folder in find_results(root):
            try:
                summary = load_summary(folder)
            except ResultsSchemaError as exc:
                raise PluginError(str(exc)) from None
            key = _slug(folder.name)
            n = 2
            while key in keys:
                key, n = f"{_slug(folder.name)}-{n}", n + 1
            keys.add(key)
            run = Run(folder=folder, summary=summary, key=key)
            check_run(run)
            same = [r for r in runs if r.summary["run_id"] == summary["run_id"]]
            if same:
                raise PluginError(f"{run.source}: field 'run_id' is {summary['run_id']!r}, "
                                  f"already used by {same[0].source}; run ids must be unique")
            runs.append(run)
    return runs


def load_literature(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every ``*.yaml`` of published numbers, checked: each entry cites its source."""
    out = []
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
            raise PluginError(f"{path}: field 'entries' is missing (a list of published results)")
        for i, entry in enumerate(doc["entries"]):
            for name in LITERATURE_FIELDS:
                if not entry.get(name):
                    raise PluginError(f"{path}: field 'entries[{i}].{name}' is missing")
            if not any(isinstance(entry.get(m), int | float) for m in LITERATURE_METRICS):
                raise PluginError(f"{path}: field 'entries[{i}]' has none of "
                                  f"{list(LITERATURE_METRICS)}")
        out.append((path, doc))
    return out


# ---------------------------------------------------------------- mkdocs events


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Load and validate every results folder; expand the Leaderboard nav entry."""
    config_dir = Path(config.config_file_path).resolve().parent
    STATE.runs = load_runs(result_roots(config_dir))
    STATE.literature = load_literature(config_dir / "benchmarks" / "literature")
    section = [{"Overview": f"{PAGE_DIR}/index.md"}]
    section += [{ds: f"{PAGE_DIR}/{_slug(ds)}.md"} for ds in STATE.datasets()]
    section += [{"Runs and provenance": f"{PAGE_DIR}/runs.md"},
                {"Published results": f"{PAGE_DIR}/literature.md"}]
    nav = config.nav or []
    for i, item in enumerate(nav):
        if isinstance(item, dict) and item.get("Leaderboard") == f"{PAGE_DIR}/index.md":
            nav[i] = {"Leaderboard": section}
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated pages and copy the plots of every run into the site."""
    pages = {f"{PAGE_DIR}/index.md": index_page(STATE),
             f"{PAGE_DIR}/runs.md": runs_page(STATE),
             f"{PAGE_DIR}/literature.md": literature_page(STATE)}
    for ds in STATE.datasets():
        pages[f"{PAGE_DIR}/{_slug(ds)}.md"] = dataset_page(STATE, ds)
    for uri, text in pages.items():
        files.append(File.generated(config, uri, content=text))
    for run in STATE.runs:
        for rel in _plots(run):
            uri = f"{PAGE_DIR}/assets/{run.key}/{Path(rel).name}"
            files.append(File.generated(config, uri, abs_src_path=str(run.folder / rel)))
    return files


# ---------------------------------------------------------------- rendering


def _plots(run: Run) -> list[str]:
    """Every plot of a run (listed in summary.json, or written next to it by `satsr report`)."""
    listed = [*run.summary["plots"].get("scatter", []), *run.summary["plots"].get("strips", [])]
    found = [str(p.relative_to(run.folder)) for p in sorted((run.folder / "plots").glob("*.png"))]
    return list(dict.fromkeys([*listed, *found]))


def _asset(run: Run, rel: str) -> str:
    """Link to a copied plot, relative to a page in ``leaderboard/``."""
    return f"assets/{run.key}/{Path(rel).name}"


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _provenance(run: Run) -> str:
    """The run's provenance as one line: satsr version, commit, date, device."""
    s = run.summary
    env = s["environment"]
    commit = s.get("git_commit") or "no commit"
    if commit != "no commit":
        commit = commit[:8] + ("+dirty" if s.get("git_dirty") else "")
    device = str(env.get("device", "?"))
    if env.get("gpu"):
        device = f"{device} ({env['gpu']})"
    return f"satsr {s['satsr_version']} · {commit} · {str(s['created'])[:10]} · {device}"


def leaderboard_table(entries: list[tuple[Run, dict[str, Any]]], slug: str) -> str:
    """One sortable HTML table (tablesort) of summary rows from one or more runs.

    Rows carry ``data-model``/``data-run``, cells ``data-field`` (the summary key) and
    ``data-sort`` (the exact value), so tests and scripts can read the table back.
    """
    metric_cols = COLUMNS[1:]
    head = ["<th>Model</th>"]
    head += [f'<th data-sort-method="number">{_esc(c.header).replace("Δ ", "Δ&nbsp;")}</th>'
             for c in metric_cols]
    head += ["<th>Run (satsr · commit · date · device)</th>"]
    lines = [f'<table data-satsr-table="{_esc(slug)}">', "<thead><tr>" + "".join(head)
             + "</tr></thead>", "<tbody>"]
    for run, row in entries:
        model = str(row["model"])
        kind = run.summary["models"].get(model, {}).get("kind", "")
        run_id = str(run.summary["run_id"])
        cells = [f'<td data-field="model"><code title="{_esc(kind)}">{_esc(model)}</code></td>']
        for c in metric_cols:
            value = row.get(c.key)
            cells.append(f'<td data-field="{c.key}" data-sort="{_esc(sort_value(c.key, value))}">'
                         f"{_esc(format_value(c.key, value))}</td>")
        cells.append(f'<td data-field="run" data-sort="{_esc(run_id)}">'
                     f'<a href="../runs/#{slugify(run_id, "-")}">{_esc(run_id)}</a><br>'
                     f'<small>{_esc(_provenance(run))}</small></td>')
        lines.append(f'<tr data-model="{_esc(model)}" data-run="{_esc(run_id)}">'
                     + "".join(cells) + "</tr>")
    lines += ["</tbody>", "</table>"]
    return "\n".join(lines) + "\n"


def _order(entry: tuple[Run, dict[str, Any]]) -> tuple[float, str, str]:
    """Best mean cPSNR first (PSNR where there is no cPSNR), missing last."""
    run, row = entry
    value: Any = row.get("cpsnr") if not is_missing(row.get("cpsnr")) else row.get("psnr")
    key = float("inf") if is_missing(value) else -float(value)
    return key, str(row["model"]), run.key


def _tables_of(state: Leaderboard, dataset: str) -> dict[tuple[str, str], list[tuple[Run, dict]]]:
    groups: dict[tuple[str, str], list[tuple[Run, dict[str, Any]]]] = {}
    for run in state.runs:
        for table in run.summary["tables"]:
            if str(table["dataset"]) == dataset:
                groups.setdefault((str(table["band"]), str(table["split"])), []).extend(
                    (run, row) for row in table["rows"])
    return {k: sorted(v, key=_order) for k, v in sorted(groups.items())}


LEGEND = (
    "Means over scenes (never pooled), with 95 % bootstrap intervals of the scene mean. "
    "**cPSNR** and **Score** follow the PROBA-V challenge "
    "(score = norm / cPSNR, lower is better; — where the dataset has no norm). **Δ** columns "
    "are against the `bicubic` row of the same run. **ERGAS** (h/l = 1/scale, lower is "
    "better), **SAM** (degrees, multi-band tables only) and the reference-free **consistency** "
    "(SR degraded back to LR against the LR input) are defined on the "
    "[metrics page](../concepts/metrics.md). **Throughput**: output megapixels per "
    "second of model forward time on the run's device. Click a column header to sort.")


def dataset_page(state: Leaderboard, dataset: str) -> str:
    """``leaderboard/<dataset>.md``: tables per band × split, then plots."""
    runs = [r for r in state.runs
            if any(str(t["dataset"]) == dataset for t in r.summary["tables"])]
    synthetic = state.synthetic(dataset)
    label = "SYNTHETIC" if synthetic else "REAL"
    lines = ["---", "hide:", "  - toc", "---", "", f"# Leaderboard: {dataset} ({label} data)", ""]
    if not synthetic:
        lines += ['!!! note "REAL data"',
                  "    Measured on real satellite images. Few scenes settle little: read the "
                  "95 % bootstrap intervals before the means.", ""]
    if synthetic:
        lines += ['!!! warning "SYNTHETIC data"',
                  "    These numbers come from simulated scenes. They test the pipeline; they "
                  "say nothing about performance on real satellite images.", ""]
    lines += [LEGEND, ""]
    for (band, split), entries in _tables_of(state, dataset).items():
        slug = table_slug({"dataset": dataset, "band": band, "split": split})
        n = sorted({int(t["n_scenes"]) for r in runs for t in r.summary["tables"]
                    if table_slug(t) == slug})
        n_runs = len({r.key for r, _ in entries})
        scenes = f"{', '.join(map(str, n))} scene{'s' if n != [1] else ''}"
        lines += [f"## {band} · {split} — {label}, {scenes}", "",
                  f"{label} data · {scenes} · {n_runs} run{'s' if n_runs != 1 else ''}.",
                  "", leaderboard_table(entries, slug)]
        bands = per_band_markdown([row for _, row in entries])
        if bands is not None:
            lines += ["Per band (means over scenes):", "", bands]
        for run in runs:
            plots = [p for p in _plots(run) if Path(p).name == f"scatter_{slug}.png"]
            strips = [p for p in _plots(run) if Path(p).name.startswith(f"strip_{slug}")]
            if plots or strips:
                lines += [f"### Plots of run `{run.summary['run_id']}`", ""]
            for rel in plots:
                lines += [f"![Per-scene cPSNR against the baseline, {band} {split}, run "
                          f"{run.summary['run_id']}]({_asset(run, rel)}){{ loading=lazy }}", "",
                          "Each point is one scene: the model's cPSNR (y) against the baseline's "
                          "(x; mean-bicubic where present). Points above y = x beat the baseline.",
                          ""]
            for rel in strips:
                lines += [f"![Visual comparison LR / bicubic / SR / HR, {Path(rel).stem}]"
                          f"({_asset(run, rel)}){{ loading=lazy }}", ""]
    return "\n".join(lines)


def index_page(state: Leaderboard) -> str:
    """``leaderboard/index.md``: what is measured and which tables exist."""
    lines = ["# Leaderboard", "",
             "Every number on these pages is read at build time from the committed benchmark "
             "results in `benchmarks/results/<run>/summary.json` (written by `satsr bench`). "
             "Add a results folder and rebuild the docs to add its rows; nothing is typed by "
             "hand. Published numbers from the literature are kept apart, on "
             "[Published results](literature.md), because they were measured with other code "
             "on other splits.", ""]
    if not state.runs:
        lines += ["No results folder found yet. Run `satsr bench --out benchmarks/results/<run>`."]
        return "\n".join(lines)
    lines += ["REAL-data tables come first. Every table says whether it measured REAL or "
              "SYNTHETIC data and on how many scenes.", "",
              "| Data | Dataset | Band · split | Scenes | Runs | Models | Best cPSNR (dB) |",
              "|:---|:---|:---|---:|---:|---:|:---|"]
    for ds in state.datasets():
        kind = "SYNTHETIC" if state.synthetic(ds) else "**REAL**"
        for (band, split), entries in _tables_of(state, ds).items():
            _, best = entries[0]
            n = max(int(row["n_scenes"]) for _, row in entries)
            lines.append(f"| {kind} | [{ds}]({_slug(ds)}.md) | {band} · {split} | {n} | "
                         f"{len({r.key for r, _ in entries})} | "
                         f"{len(entries)} | `{best['model']}` "
                         f"{format_value('cpsnr', best.get('cpsnr'))} |")
    return "\n".join(lines) + "\n"


def runs_page(state: Leaderboard) -> str:
    """``leaderboard/runs.md``: the provenance of every run."""
    lines = ["# Runs and provenance", "",
             "One section per results folder, as recorded in its `summary.json`.", ""]
    for run in state.runs:
        s, env, ds = run.summary, run.summary["environment"], run.summary["dataset"]
        lines += [f"## {s['run_id']}", "", provenance_line(s), "",
                  "| Field | Value |", "|:---|:---|",
                  f"| Dataset | {ds['name']}{' (SYNTHETIC)' if ds.get('synthetic') else ''}, "
                  f"scale ×{ds['scale']}, value scale `{ds.get('value_scale', '?')}` |",
                  f"| Bands · splits | {', '.join(map(str, ds.get('bands', [])))} · "
                  f"{', '.join(map(str, ds.get('splits', [])))} |",
                  f"| Python · torch · numpy | {env['python']} · {env['torch']} · "
                  f"{env.get('numpy', '?')} |",
                  f"| Platform | {_esc(env['platform'])} |",
                  f"| Device | {env['device']} {env.get('gpu') or env.get('cpu') or ''} |",
                  "", "| Model | Kind | Params | Weights | Paper |", "|:---|:---|---:|:---|:---|"]
        for name, meta in s["models"].items():
            paper = meta.get("paper") or ""
            if meta.get("url"):
                paper = f"[{paper or meta['url']}]({meta['url']})"
            lines.append(f"| `{name}` | {meta.get('kind', '')} | "
                         f"{format_value('params', meta.get('params'))} | "
                         f"{meta.get('weights') or '—'} | {paper} {meta.get('year', '')} |")
        skipped = s.get("skipped") or {}
        if skipped:
            lines += ["", "Skipped: " + "; ".join(f"`{k}`: {v}" for k, v in skipped.items())]
        lines.append("")
    return "\n".join(lines)


def literature_page(state: Leaderboard) -> str:
    """``leaderboard/literature.md``: published numbers, cited, never mixed with ours."""
    lines = ["# Published results", "",
             "!!! note \"Not our measurements\"",
             "    These numbers are copied from the cited papers and official pages (each row "
             "links its source). They were computed by other code, often on other splits, and "
             "are never mixed into our tables.", ""]
    for path, doc in state.literature:
        lines += [f"## {doc.get('title', path.stem)}", "", str(doc.get("description", "")), ""]
        lines += ["| Method | Year | Evaluated on | Band | Score | cPSNR (dB) | SSIM | Source |",
                  "|:---|---:|:---|:---|---:|---:|---:|:---|"]
        for e in doc["entries"]:
            def num(key: str, entry: dict[str, Any] = e) -> str:
                v = entry.get(key)  # shown exactly as published (no re-rounding)
                return str(v) if isinstance(v, int | float) else "—"
            lines.append(
                f"| [{e['method']}]({e['paper_url']} \"{_esc(e['paper'])}\") | {e['year']} | "
                f"{e['evaluated_on']} | {e.get('band', 'both')} | {num('score')} | "
                f"{num('cpsnr')} | {num('ssim')} | [source]({e['source_url']}) |")
        notes = [f"- **{e['method']}**: {e['note']}" for e in doc["entries"] if e.get("note")]
        if notes:
            lines += ["", *notes]
        lines.append("")
    if not state.literature:
        lines.append("No published numbers recorded yet (`benchmarks/literature/*.yaml`).")
    return "\n".join(lines)
