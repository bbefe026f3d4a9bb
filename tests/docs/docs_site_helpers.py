"""Helpers for the documentation tests: build the site, read its leaderboard tables, results.

The fixture results come from a REAL bench run (`satsr bench` on the real PROBA-V scenes of
``$SATSR_TEST_DATA``) plus a generated run (``tests/bench/results_fixture.py``: real metric
computations of the baselines on synthetic scenes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "benchmarks" / "results"


def build_site(site: Path, roots: Sequence[Path] = ()) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of the real mkdocs.yml into ``site`` with extra result roots."""
    env = {**os.environ, "SATSR_LEADERBOARD_RESULTS": os.pathsep.join(map(str, roots)),
           "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(REPO / "mkdocs.yml"),
         "-d", str(site)],
        capture_output=True, text=True, timeout=600, cwd=REPO, env=env)


def satsr(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``satsr`` CLI in a subprocess."""
    return subprocess.run([sys.executable, "-m", "satsr", *args], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "COLUMNS": "160"})


def summaries(roots: Sequence[Path]) -> list[dict[str, Any]]:
    """Every summary.json under ``roots`` (each a results folder or a folder of them)."""
    out = []
    for root in roots:
        files = [root / "summary.json"] if (root / "summary.json").exists() else sorted(
            root.glob("*/summary.json"))
        out += [json.loads(f.read_text()) for f in files]
    return out


class LeaderboardParser(HTMLParser):
    """Collect the rows of every ``table[data-satsr-table]``: (table, run, model) → cells."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[tuple[str, str, str], dict[str, str]] = {}
        self._table: str | None = None
        self._row: tuple[str, str, str] | None = None
        self._field: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("data-satsr-table"):
            self._table = a["data-satsr-table"]
        elif tag == "tr" and self._table and a.get("data-model"):
            self._row = (self._table, str(a.get("data-run")), str(a["data-model"]))
            assert self._row not in self.rows, f"duplicate leaderboard row {self._row}"
            self.rows[self._row] = {}
        elif tag == "td" and self._row and a.get("data-field"):
            self._field, self._text = a["data-field"], []

    def handle_data(self, data: str) -> None:
        if self._field:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._field and self._row:
            self.rows[self._row][self._field] = "".join(self._text).strip()
            self._field = None
        elif tag == "tr":
            self._row = None
        elif tag == "table":
            self._table = None


def leaderboard_rows(site: Path) -> dict[tuple[str, str, str], dict[str, str]]:
    """All leaderboard rows of a built site, from every ``leaderboard/*/index.html``."""
    rows: dict[tuple[str, str, str], dict[str, str]] = {}
    for page in sorted((site / "leaderboard").glob("*/index.html")):
        parser = LeaderboardParser()
        parser.feed(page.read_text(encoding="utf-8"))
        rows.update(parser.rows)
    return rows
