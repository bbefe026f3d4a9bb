"""Progress bars for long work (rich), silent when disabled or when not attached to a terminal."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")


def make_progress(*, disable: bool = False) -> Progress:
    """A rich ``Progress`` with the columns satsr uses everywhere (use as a context manager).

    Disabled when stdout is not a terminal: rich would otherwise print the last frame once, cut
    to 80 columns, into a log file or pipe (commands log their progress there instead).
    """
    from rich.console import Console

    console = Console()
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=disable or not console.is_terminal,
        transient=False,
    )


def track(
    items: Iterable[T], *, total: int | None = None, description: str = "", disable: bool = False
) -> Iterator[T]:
    """Iterate over ``items`` while showing a progress bar."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with make_progress(disable=disable) as progress:
        task = progress.add_task(description, total=total, status="")
        for item in items:
            yield item
            progress.advance(task)
