"""Console output of ``spex batch``: a live rich progress bar on stderr (items done/failed, throughput,
ETA), the dashboard address, and a summary table at the end.

When stderr is not a terminal (logs, CI) rich draws nothing live; one line per failed item and the summary
still appear.
"""

from __future__ import annotations

import sys
from typing import Optional

from .manifest import ItemRecord
from .request import BatchResult
from .runner import BatchReporter


class RichReporter(BatchReporter):
    """Progress bar + messages with rich (see the module docstring)."""

    def __init__(self, stream=None):
        from rich.console import Console

        self.console = Console(file=stream or sys.stderr, highlight=False, soft_wrap=True)
        self.progress = None
        self.task = None
        self.failed = 0
        self.done = 0

    def start(self, total: int, skipped: int, todo: int) -> None:
        """Show the plan and start the bar."""
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console.print(
            f"spex batch: {total} item{'s' if total != 1 else ''}, {skipped} finished before (skipped), "
            f"{todo} to run"
        )
        if not todo:
            return
        self.progress = Progress(
            TextColumn("[bold]extracting"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[green]{task.fields[done]} done[/] [red]{task.fields[failed]} failed[/]"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self.task = self.progress.add_task("batch", total=todo, done=0, failed=0, rate="")
        self.progress.start()

    def cluster(self, workers: int, dashboard: Optional[str]) -> None:
        """Print the cluster size and its dashboard."""
        where = f", dashboard {dashboard}" if dashboard else " (no dashboard: install bokeh to get one)"
        self.console.print(f"dask: {workers} worker{'s' if workers != 1 else ''}{where}")

    def item(self, record: ItemRecord) -> None:
        """Advance the bar; failed items get one line each."""
        if record.status == "failed":
            self.failed += 1
            self.console.print(f"[red]failed[/] {record.item_id}: {record.error}")
        else:
            self.done += 1
        if self.progress is None or self.task is None or record.attempts == 0:
            return  # failed while planning: not part of the bar
        task = self.progress.tasks[0]
        elapsed = task.elapsed or 0.0
        finished = task.completed + 1
        rate = f"{finished / elapsed:.2f} items/s" if elapsed > 0 else ""
        self.progress.update(self.task, advance=1, done=self.done, failed=self.failed, rate=rate)

    def message(self, text: str) -> None:
        """Stop the bar (work is over) and print a stage message."""
        self.stop()
        self.console.print(text)

    def stop(self) -> None:
        """Stop the live bar (idempotent)."""
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def summary_table(result: BatchResult, stream=None, limit: int = 50) -> None:
    """Print the per-item table (failed first, at most ``limit`` rows) and the totals."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=stream or sys.stdout, highlight=False)
    rows = [i for i in result.items if i["status"] == "failed"]
    rows += [i for i in result.items if i["status"] != "failed"]
    table = Table(title="spex batch", show_lines=False)
    for name, justify in (
        ("item", "left"),
        ("status", "left"),
        ("features", "right"),
        ("area km²", "right"),
        ("seconds", "right"),
        ("error", "left"),
    ):
        table.add_column(name, justify=justify, overflow="fold")
    for item in rows[:limit]:
        colour = {"done": "green", "failed": "red"}.get(item["status"], "yellow")
        area = item.get("area_m2")
        table.add_row(
            item["item_id"],
            f"[{colour}]{item['status']}[/]",
            "" if item.get("features") is None else str(item["features"]),
            "" if area is None else f"{area / 1e6:,.3f}",
            "" if item.get("seconds") is None else f"{item['seconds']:.1f}",
            item.get("error") or "",
        )
    if len(rows) > limit:
        table.caption = f"{len(rows) - limit} more items in {result.manifest}"
    console.print(table)
    for mosaic in result.mosaics:
        status = mosaic["status"]
        console.print(
            f"mosaic {mosaic['item_id']}: {status}, {mosaic.get('features') or 0} polygons "
            f"({(mosaic.get('details') or {}).get('pieces_joined', 0)} pieces joined across chunk borders)"
            + (f": {mosaic['error']}" if mosaic.get("error") else "")
        )
    counts = result.counts
    done = counts["done"] + counts["skipped"]
    rate = counts["done"] / result.seconds if result.seconds > 0 else 0.0
    console.print(
        f"{done}/{counts['total']} done ({counts['skipped']} from an earlier run), "
        f"{counts['failed']} failed, {result.seconds:.1f} s, {rate:.2f} items/s on {result.workers} worker(s)"
    )
    if result.merged_output:
        console.print(f"merged: {result.merged_output} ({result.merged_features} features)")
    console.print(f"manifest: {result.manifest}")
