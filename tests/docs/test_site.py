"""The documentation site: strict build, generated leaderboard, model zoo, and the browser view.

Builds run the real ``mkdocs.yml`` (``mkdocs build --strict``) with the committed results in
``benchmarks/results`` plus fixture results passed through ``$SATSR_LEADERBOARD_RESULTS``.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from satsr.bench.report import COLUMNS, format_value, table_slug
from satsr.models import list_models
from tests.bench.results_fixture import make_results
from tests.docs.docs_site_helpers import (
    COMMITTED,
    REPO,
    build_site,
    leaderboard_rows,
    summaries,
)

METRIC_KEYS = [c.key for c in COLUMNS[1:]]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, generated_results: Path) -> Path:
    """The site built with the committed results plus one generated results folder."""
    out = tmp_path_factory.mktemp("site")
    proc = build_site(out, [generated_results])
    assert proc.returncode == 0, proc.stderr
    return out


def _expected_rows(roots: list[Path]) -> dict[tuple[str, str, str], dict[str, str]]:
    expected: dict[tuple[str, str, str], dict[str, str]] = {}
    for summary in summaries(roots):
        for table in summary["tables"]:
            for row in table["rows"]:
                key = (table_slug(table), summary["run_id"], row["model"])
                assert key not in expected, f"run id {summary['run_id']} is not unique"
                expected[key] = {k: format_value(k, row.get(k)) for k in METRIC_KEYS}
                expected[key]["model"] = row["model"]
    return expected


@pytest.mark.slow  # builds the whole site (~15-30 s on 2 cores)
def test_every_leaderboard_number_comes_from_its_results_file(
    site: Path, generated_results: Path
) -> None:
    rows = leaderboard_rows(site)
    expected = _expected_rows([COMMITTED, generated_results])
    assert expected, "no results at all"
    assert set(rows) == set(expected)
    for key, cells in expected.items():
        for field, text in cells.items():
            assert rows[key][field] == text, f"{key} {field}: {rows[key][field]!r} != {text!r}"


@pytest.mark.slow  # builds the whole site (~15-30 s on 2 cores)
def test_format_matches_the_raw_numbers(site: Path, generated_results: Path) -> None:
    """The displayed text is the summary value rounded, not some other number."""
    summary = summaries([generated_results])[0]
    rows = leaderboard_rows(site)
    for table in summary["tables"]:
        for row in table["rows"]:
            cells = rows[(table_slug(table), summary["run_id"], row["model"])]
            assert math.isclose(float(cells["psnr"]), row["psnr"], abs_tol=0.005)
            assert math.isclose(float(cells["ssim"]), row["ssim"], abs_tol=0.00005)
            assert math.isclose(float(cells["cpsnr"]), row["cpsnr"], abs_tol=0.005)


@pytest.mark.slow  # builds the whole site (~15-30 s on 2 cores)
def test_model_zoo_lists_every_registered_model(site: Path) -> None:
    import torch

    from satsr.models import count_parameters, create_model, model_info

    page = (site / "models" / "zoo" / "index.html").read_text(encoding="utf-8")
    for name in list_models():
        assert f"<code>{name}</code>" in page
        ref = model_info(name).reference
        assert ref is not None, name
        with torch.device("meta"):
            n = count_parameters(create_model(name, scale=ref.scale, in_channels=ref.in_channels,
                                              **ref.config))
        assert f'<a href="#{name}"><code>{name}</code></a></td>' in page
        row = page.split(f'<a href="#{name}"><code>{name}</code></a></td>', 1)[1].split("</tr>")[0]
        assert f">{n:,} (×{ref.scale}, " in row, (name, n)  # count at the reference config
        assert ref.url in row


@pytest.mark.slow  # builds the whole site (~15-30 s on 2 cores)
def test_plots_are_copied_into_the_site(site: Path, generated_results: Path) -> None:
    run = generated_results / "fixture-a"
    for png in (run / "plots").glob("*.png"):
        copied = site / "leaderboard" / "assets" / "fixture-a" / png.name
        assert copied.read_bytes() == png.read_bytes()
    assert list((run / "plots").glob("scatter_*.png")), "write_report made no scatter plot"


@pytest.mark.slow  # builds the whole site (~15-30 s on 2 cores)
def test_a_new_results_folder_adds_its_rows(tmp_path: Path, generated_results: Path) -> None:
    root = tmp_path / "more"
    make_results(root / "fixture-b", run_id="fixture-b", seed=2)
    proc = build_site(tmp_path / "site", [generated_results, root])
    assert proc.returncode == 0, proc.stderr
    rows = leaderboard_rows(tmp_path / "site")
    new = {k: v for k, v in rows.items() if k[1] == "fixture-b"}
    expected = _expected_rows([root])
    assert set(new) == set(expected) and len(new) == 4  # 2 bands x 2 baselines
    assert any(k[1] == "fixture-a" for k in rows)


@pytest.mark.slow  # builds the whole site (~15-30 s on 2 cores)
def test_a_folder_dropped_into_benchmarks_results_adds_rows(tmp_path: Path) -> None:
    """Literally: a copy of the docs project whose benchmarks/results/ gains one folder."""
    project = tmp_path / "project"
    shutil.copytree(REPO / "docs", project / "docs")
    shutil.copy(REPO / "mkdocs.yml", project / "mkdocs.yml")
    shutil.copytree(REPO / "benchmarks" / "literature", project / "benchmarks" / "literature")
    shutil.copytree(REPO / "benchmarks" / "results_speed", project / "benchmarks" / "results_speed")
    make_results(project / "benchmarks" / "results" / "dropped-run", run_id="dropped-run", seed=5)
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(project / "mkdocs.yml"),
         "-d", str(tmp_path / "site")], capture_output=True, text=True, timeout=600,
        cwd=REPO, env={**os.environ, "SATSR_LEADERBOARD_RESULTS": "", "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stderr
    rows = leaderboard_rows(tmp_path / "site")
    expected = _expected_rows([project / "benchmarks" / "results"])
    assert set(rows) == set(expected) and len(rows) == 4
    for key, cells in expected.items():
        assert all(rows[key][f] == text for f, text in cells.items())


def _broken_copy(src: Path, dst: Path, edit: Any) -> Path:
    shutil.copytree(src, dst)
    summary = json.loads((dst / "summary.json").read_text())
    edit(summary)
    (dst / "summary.json").write_text(json.dumps(summary))
    return dst


@pytest.mark.parametrize(
    ("edit", "needles"),
    [
        (lambda s: s.update(schema_version=99), ["'schema_version' is 99"]),
        (lambda s: s["tables"][0]["rows"][1].pop("psnr"), ["'tables[0].rows[1].psnr' is missing"]),
        (lambda s: s.pop("environment"), ["'environment' is missing"]),
        (lambda s: s["tables"][1].update(rows=[r for r in s["tables"][1]["rows"]
                                               if r["model"] != "bicubic"]),
         ["'tables[1].rows'", "no 'bicubic' row"]),
        (lambda s: s["tables"][0].update(rows=[r for r in s["tables"][0]["rows"]
                                               if r["model"] != "mean-bicubic"]),
         ["'tables[0].rows'", "no 'mean-bicubic' row", "multi-frame"]),
    ],
    ids=["schema-version", "missing-row-field", "missing-top-field", "no-bicubic",
         "no-mean-bicubic"],
)
def test_bad_results_fail_the_build_naming_file_and_field(
    tmp_path: Path, generated_results: Path, edit: Any, needles: list[str]
) -> None:
    bad = _broken_copy(generated_results / "fixture-a", tmp_path / "bad" / "broken-run", edit)
    proc = build_site(tmp_path / "site", [tmp_path / "bad"])
    assert proc.returncode != 0
    assert str(bad / "summary.json") in proc.stderr
    for needle in needles:
        assert needle in proc.stderr
    assert "Traceback" not in proc.stderr


def test_duplicate_run_ids_fail_the_build(tmp_path: Path, generated_results: Path) -> None:
    shutil.copytree(generated_results / "fixture-a", tmp_path / "dup" / "copy-of-a")
    proc = build_site(tmp_path / "site", [generated_results, tmp_path / "dup"])
    assert proc.returncode != 0
    assert "field 'run_id' is 'fixture-a'" in proc.stderr and "must be unique" in proc.stderr


def test_literature_needs_a_source_for_every_number(tmp_path: Path) -> None:
    import yaml

    lit = Path(__file__).resolve().parents[2] / "benchmarks" / "literature" / "probav.yaml"
    doc = yaml.safe_load(lit.read_text())
    assert doc["entries"], "no published numbers"
    for entry in doc["entries"]:
        assert entry["source_url"].startswith("https://")
        assert any(isinstance(entry.get(m), int | float) for m in ("score", "cpsnr", "ssim"))


# ---------------------------------------------------------------- the browser


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def served(tmp_path: Path, real_bench_results: Path, generated_results: Path
           ) -> Iterator[tuple[str, Path, list[Path]]]:
    """The site (committed + real bench + generated results) on a loopback HTTP server."""
    site = tmp_path / "site"
    roots = [real_bench_results, generated_results]
    proc = build_site(site, roots)
    assert proc.returncode == 0, proc.stderr
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", site, roots
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _column(page: Any, slug: str, field: str) -> list[str]:
    return list(page.eval_on_selector_all(
        f'table[data-satsr-table="{slug}"] tbody td[data-field="{field}"]',
        "cells => cells.map(c => c.getAttribute('data-sort') ?? c.textContent)"))


def _row_keys(page: Any, slug: str) -> list[tuple[str, str]]:
    return [tuple(k) for k in page.eval_on_selector_all(
        f'table[data-satsr-table="{slug}"] tbody tr',
        "rows => rows.map(r => [r.getAttribute('data-run'), r.getAttribute('data-model')])")]


@pytest.mark.browser
@pytest.mark.slow
def test_leaderboard_in_chromium(chromium: str, served: tuple[str, Path, list[Path]],
                                 tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    base, _, roots = served
    real = summaries(roots[:1])[0]
    dataset = real["dataset"]["name"]
    external: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})

        def route(r: Any) -> None:
            if r.request.url.startswith(base):
                r.continue_()
            else:  # the site must work offline: nothing may leave the loopback server
                external.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/leaderboard/{dataset}/", wait_until="networkidle")

        # every model of the real run has a row with the right numbers
        for table in real["tables"]:
            slug = table_slug(table)
            for row in table["rows"]:
                sel = (f'table[data-satsr-table="{slug}"] tr[data-run="{real["run_id"]}"]'
                       f'[data-model="{row["model"]}"]')
                assert page.locator(sel).count() == 1, sel
                for key in METRIC_KEYS:
                    text = page.locator(f'{sel} td[data-field="{key}"]').inner_text().strip()
                    assert text == format_value(key, row[key]), (slug, row["model"], key)

        # clicking a header reorders the rows (tablesort): best PSNR (highest) first, then the
        # reverse
        table = next(t for t in real["tables"] if len({r["psnr"] for r in t["rows"]}) > 1)
        slug = table_slug(table)
        header = page.locator(f'table[data-satsr-table="{slug}"] th').filter(
            has_text=re.compile(r"^PSNR \(dB\)$"))
        assert header.count() == 1
        # the table may also hold rows of committed runs: compare whole rows (run, model)
        before = _row_keys(page, slug)  # initial order: best cPSNR first
        assert {(real["run_id"], r["model"]) for r in table["rows"]} <= set(before)
        header.click()
        after_desc = _row_keys(page, slug)
        desc = [float(v) for v in _column(page, slug, "psnr")]
        assert desc == sorted(desc, reverse=True) and sorted(after_desc) == sorted(before)
        header.click()
        after_asc = _row_keys(page, slug)
        asc = [float(v) for v in _column(page, slug, "psnr")]
        assert asc == sorted(asc) and sorted(after_asc) == sorted(before)
        assert after_asc != before or after_desc != before  # at least one click reordered

        # every image loads (scatter plots, strips): decode() rejects broken images
        images = page.eval_on_selector_all("article img", """imgs => Promise.all(imgs.map(
            i => { i.loading = 'eager'; return i.decode().then(() => [i.src, i.naturalWidth],
                                                                () => [i.src, 0]); }))""")
        assert any("scatter_" in src for src, _ in images)
        assert any("strip_" in src for src, _ in images)
        broken = [src for src, width in images if width <= 0]
        assert not broken, broken

        shot = tmp_path / "leaderboard.png"
        page.evaluate("window.scrollTo(0, 0)")  # sticky header at the top of the full page
        page.screenshot(path=str(shot), full_page=True)
        page.goto(f"{base}/leaderboard/literature/", wait_until="networkidle")
        page.screenshot(path=str(tmp_path / "literature.png"), full_page=True)
        browser.close()
    assert shot.stat().st_size > 10_000
    assert not errors, errors
    assert not external, external
    keep = os.environ.get("SATSR_SCREENSHOT_DIR")  # to look at the screenshots afterwards
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / "leaderboard.png")
        shutil.copy(tmp_path / "literature.png", Path(keep) / "literature.png")
