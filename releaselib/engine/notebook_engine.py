"""papermill's nbclient engine, validating the executed notebook once instead of after every cell.

papermill writes the whole notebook (serialised and validated against the
schema) when the run starts, when each cell starts, when each cell ends, and
once more when the run ends, so that someone watching the output file sees
the progress. The runbooks are short, so those validated writes were most of
papermill's own time in a phase (about 40 ms each on a busy machine, two per
cell).

:class:`StagedEngine` keeps the progress visible (a test kills the runner when
the staged notebook shows a given cell started; a person may watch it) but
writes the intermediate states as plain JSON, atomically and without schema
validation (about 1 ms). The final save (in ``notebook_complete``, which runs
however the execution ends: success, a failing cell, a timeout, a dead kernel,
Ctrl+C) is papermill's own, validated, and is the notebook archived: the same
file, byte for byte.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

__all__ = ["ENGINE_NAME", "StagedEngine", "register"]

#: The name the runner passes to ``papermill.execute_notebook(engine_name=...)``.
ENGINE_NAME = "releaselib-staged"


class _FinalSaveManager(NotebookExecutionManager):  # type: ignore[misc]
    """A notebook execution manager that validates the notebook only when the execution ends."""

    _final = False

    def save(self, **kwargs: Any) -> None:
        if self._final or not self.output_path:
            super().save(**kwargs)
            return
        # Progress only: plain JSON, replaced atomically so a reader never sees half of it.
        target = Path(self.output_path)
        partial = target.with_name(f".{target.name}.partial")
        partial.write_text(json.dumps(self.nb, ensure_ascii=False), encoding="utf-8")
        os.replace(partial, target)
        self.last_save_time = self.now()

    def notebook_complete(self, **kwargs: Any) -> None:
        self._final = True
        super().notebook_complete(**kwargs)


class StagedEngine(NBClientEngine):  # type: ignore[misc]
    """papermill's nbclient engine with :class:`_FinalSaveManager` (same arguments, same result)."""

    @classmethod
    def execute_notebook(cls, nb: Any, kernel_name: str, output_path: str | None = None, progress_bar: bool = True,
                         log_output: bool = False, autosave_cell_every: int = 30, **kwargs: Any) -> Any:
        nb_man = _FinalSaveManager(nb, output_path=output_path, progress_bar=progress_bar, log_output=log_output,
                                   autosave_cell_every=autosave_cell_every)  # fmt: skip
        nb_man.notebook_start()
        try:
            cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
        finally:
            nb_man.cleanup_pbar()
            nb_man.notebook_complete()
        return nb_man.nb


def register() -> str:
    """Register :class:`StagedEngine` with papermill (idempotent); return its name."""
    papermill_engines.register(ENGINE_NAME, StagedEngine)
    return ENGINE_NAME
