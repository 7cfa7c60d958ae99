"""Plan, then execute.

A phase step builds a :class:`Plan`: a list of :class:`Action` objects, each
able to describe itself, to tell whether it is already done, and to do itself.
A dry run shows exactly the actions a real run executes; a re-run skips the
actions that report themselves done, which is what lets a half-finished
release be finished by running the same phase again.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Callable, ClassVar, Iterable, Iterator


class Action:
    """One change to the world. Subclasses override the three methods.

    A class whose actions cost less done together (one upload command for
    every file) sets ``applies_together`` and overrides :meth:`apply_all`:
    the plan then asks each of a run of such actions standing next to each
    other whether it is done, and applies the rest in one call. Each action
    keeps its own outcome.
    """

    applies_together: ClassVar[bool] = False

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def is_done(self) -> bool:
        """True when the effect of this action is already in place."""
        return False

    def apply(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply_all(cls, actions: Sequence[Action]) -> None:
        """Apply ``actions`` (of this class, none done yet, in the plan's order)."""
        for action in actions:
            action.apply()


@dataclass
class FunctionAction(Action):
    """An action made from plain callables, for steps too small for a class."""

    description: str
    do: Callable[[], None]
    done: Callable[[], bool] = lambda: False

    def describe(self) -> str:
        return self.description

    def is_done(self) -> bool:
        return self.done()

    def apply(self) -> None:
        self.do()


# Outcome of one action in an executed plan.
DONE = "done"
ALREADY_DONE = "already done"
WOULD_DO = "would do"


@dataclass
class Plan:
    """An ordered list of actions under a title."""

    title: str
    actions: list[Action] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    dry_run: bool | None = None
    #: What the plan deliberately leaves alone, and why (shown under the actions).
    notes: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[Action]:
        return iter(self.actions)

    def __len__(self) -> int:
        return len(self.actions)

    def add(self, action: Action) -> None:
        self.actions.append(action)

    def extend(self, actions: Iterable[Action]) -> None:
        self.actions.extend(actions)

    def execute(self, *, dry_run: bool) -> "Plan":
        """Run every action not yet done (or, in a dry run, say what would run).

        Returns the plan itself, with one outcome per action, so a notebook
        cell that ends with this call shows the executed plan.
        """
        self.dry_run = dry_run
        self.outcomes = []
        start = 0
        while start < len(self.actions):
            kind = type(self.actions[start])
            end = start + 1
            while kind.applies_together and end < len(self.actions) and type(self.actions[end]) is kind:
                end += 1
            run = self.actions[start:end]
            outcomes = [ALREADY_DONE if action.is_done() else WOULD_DO for action in run]
            pending = [action for action, outcome in zip(run, outcomes) if outcome == WOULD_DO]
            if pending and not dry_run:
                if len(pending) == 1:
                    pending[0].apply()
                else:
                    kind.apply_all(pending)
                outcomes = [DONE if outcome == WOULD_DO else outcome for outcome in outcomes]
            self.outcomes.extend(outcomes)
            start = end
        return self

    @property
    def changed(self) -> bool:
        return DONE in self.outcomes

    def rows(self) -> list[tuple[str, str]]:
        outcomes = self.outcomes or ["planned"] * len(self.actions)
        return [(action.describe(), outcome) for action, outcome in zip(self.actions, outcomes)]

    def __str__(self) -> str:
        mode = "" if self.dry_run is None else (" (dry run)" if self.dry_run else "")
        lines = [f"{self.title}{mode}"]
        if not self.actions:
            lines.append("  nothing to do")
        for description, outcome in self.rows():
            lines.append(f"  [{outcome}] {description}")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        from releaselib.core.display import html_table, status

        mode = " <em>(dry run)</em>" if self.dry_run else ""
        rows = [
            (html.escape(status(outcome)), f"<code>{html.escape(description)}</code>")
            for description, outcome in self.rows()
        ]
        notes = "".join(f"<li>{html.escape(note)}</li>" for note in self.notes)
        return (
            f"<p><strong>{html.escape(self.title)}</strong>{mode}</p>"
            + html_table(["outcome", "action"], rows, empty="nothing to do")
            + (f"<ul>{notes}</ul>" if notes else "")
        )
