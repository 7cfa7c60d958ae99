"""How a run looks in a terminal: a line per phase as it goes, a table at the end."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from releaselib.engine.runner import PhaseOutcome

Progress = Callable[[str, str, "PhaseOutcome | None"], None]


def progress_printer(console: Console) -> Progress:
    """A ``Runner.progress`` callback printing each phase's start and end on ``console``."""

    def progress(event: str, phase: str, outcome: PhaseOutcome | None) -> None:
        if event == "start":
            console.print(f"[bold]▶ {phase}[/] …")
        elif event == "skip":
            console.print(f"[dim]⏭ {phase}: done in an earlier attempt[/]")
        elif outcome is not None:
            if outcome.ok:
                console.print(f"[green]✔ {phase}[/] ok {outcome.duration:.1f}s")
            else:
                console.print(f"[red]✘ {phase}[/] FAILED {outcome.duration:.1f}s: {escape(str(outcome.reason))}")

    return progress


def outcome_table(outcomes: Sequence[PhaseOutcome], title: str) -> Table:
    """One row per phase of a run: result, attempt, duration."""
    table = Table(title=title)
    table.add_column("phase")
    table.add_column("result")
    table.add_column("attempt", justify="right")
    table.add_column("duration", justify="right")
    for outcome in outcomes:
        result = "done earlier" if outcome.skipped else outcome.result
        style = "green" if outcome.ok else "red"
        table.add_row(outcome.phase, f"[{style}]{result}[/]", str(outcome.attempt), f"{outcome.duration:.1f}s")
    return table


__all__ = ["Progress", "outcome_table", "progress_printer"]
