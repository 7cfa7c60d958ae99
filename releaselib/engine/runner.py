"""Run the runbooks: one fresh kernel per phase, papermill's Python API.

The runner decides each phase's result itself. papermill marks every cell
completed after a cell timeout or a dead kernel, and a ``sys.exit(0)`` in a
cell exits cleanly with later cells unrun; so the result is derived from the
exception papermill raised (if any) *and* from every code cell's own
execution state in the executed notebook.

Executed notebooks are written to a private staging folder first, scanned for
secrets, and only then archived into the record folder; every attempt is kept.
"""

from __future__ import annotations

import ast
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from releaselib.core import secrets as secret_scan
from releaselib.core.config_types import Config
from releaselib.core.errors import PhaseFailed, ReleaseError, SecretLeak, UsageError
from releaselib.core.registry import phase_names, phases_for, runbook_path
from releaselib.engine import interrupts
from releaselib.engine.contract import require_contract
from releaselib.infra.config.load import CONFIG_FILE_ENV, PINNED_NAME
from releaselib.record.anchor import REMOTE_PHASES
from releaselib.record.notebooks import unfinished_cells, values_from_notebook
from releaselib.record.store import (
    FAILED,
    INTERRUPTED,
    SUCCEEDED,
    Record,
    ensure_gitattributes,
    now_iso,
    sha256_file,
)

if TYPE_CHECKING:
    from releaselib.engine.kernels import KernelPool
from releaselib.engine.lock import release_lock

#: Parameters every runbook has; the runner sets them itself.
CORE_PARAMETERS = ("version", "repo", "dry_run", "outputs")


# -- parameters -------------------------------------------------------------
def runbook_parameters(path: Path) -> dict[str, dict[str, Any]]:
    """The parameters a runbook declares in its ``parameters`` cell, with their defaults."""
    stat = Path(path).stat()
    return {name: dict(info) for name, info in _inspect_runbook(str(path), stat.st_mtime_ns, stat.st_size).items()}


@lru_cache(maxsize=64)
def _inspect_runbook(path: str, mtime_ns: int, size: int) -> dict[str, dict[str, Any]]:
    # A run asks for each runbook's parameters three times; a changed file has a new key.
    import papermill

    return dict(papermill.inspect_notebook(path))


def coerce_parameters(path: Path, given: Mapping[str, Any], secret_values: Mapping[str, str]) -> dict[str, Any]:
    """Check ``given`` against the runbook's declared parameters and give each its type.

    Strings from the command line take the type of the declared default
    (``None`` and ``str`` defaults stay strings, so ``1.10`` is never ``1.1``).
    Raises :class:`UsageError` for an unknown name, a bad value, or anything
    that looks like a credential: those reach kernels through the environment only.
    """
    declared = runbook_parameters(path)
    result: dict[str, Any] = {}
    for name, value in given.items():
        if secret_scan.parameter_secrets({name: value}, secret_values):
            raise UsageError(
                f"Parameter {name!r} looks like a credential; credentials are never passed as parameters "
                "(papermill writes parameters into the archived notebook).",
                hint="Set it in the environment instead (e.g. TWINE_PASSWORD), and run again.",
            )
        if name not in declared:
            from difflib import get_close_matches

            close = get_close_matches(name, list(declared), n=1)
            suggestion = f" Did you mean {close[0]!r}?" if close else ""
            raise UsageError(
                f"{path.stem} has no parameter {name!r}.{suggestion}",
                hint="Its parameters are: " + ", ".join(sorted(declared)),
            )
        result[name] = _coerce(name, value, declared[name].get("default"))
    return result


def _coerce(name: str, value: Any, default_source: str | None) -> Any:
    if not isinstance(value, str):
        return value
    try:
        default = ast.literal_eval(default_source) if default_source is not None else None
    except (ValueError, SyntaxError):
        default = None
    if isinstance(default, bool):
        if value.lower() in ("true", "1", "yes"):
            return True
        if value.lower() in ("false", "0", "no"):
            return False
        raise UsageError(f"Parameter {name!r} takes true or false, not {value!r}.")
    if isinstance(default, (int, float)):
        try:
            return type(default)(value)
        except ValueError as exc:
            raise UsageError(f"Parameter {name!r} takes a {type(default).__name__}, not {value!r}.") from exc
    return value


# -- one phase ----------------------------------------------------------------
@dataclass
class PhaseOutcome:
    """What the runner saw of one phase attempt."""

    phase: str
    result: str
    reason: str | None
    duration: float
    notebook: Path | None
    attempt: int
    values: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return self.result == SUCCEEDED


def _failure_reason(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "PapermillExecutionError":
        evalue = getattr(exc, "evalue", "") or ""
        return f"cell {getattr(exc, 'cell_index', '?')} raised {getattr(exc, 'ename', 'an error')}: {evalue}"
    if name == "CellTimeoutError":
        return f"a cell exceeded its timeout: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
    if name == "DeadKernelError":
        return "the kernel died while executing a cell"
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{name}: {first}"


@dataclass
class Runner:
    """Runs phases of one release and keeps the record.

    ``progress`` is called with ``(event, phase, outcome_or_None)`` where event is
    ``"start"``, ``"end"`` or ``"skip"``, so a CLI can show progress.
    """

    repo: Path
    version: str
    outputs: Path
    dry_run: bool = False
    resume: bool = False
    parameters: Mapping[str, Any] = field(default_factory=dict)
    cell_timeout: float | None = 3600.0
    kernel_name: str = "python3"
    progress: Callable[[str, str, PhaseOutcome | None], None] | None = None
    config: Config = field(init=False)  # the project's, loaded from ``repo``
    _kernels: KernelPool | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        from releaselib.core.versions import parse_release
        from releaselib.infra.config import load_config

        self.repo = Path(self.repo).resolve()
        self.outputs = Path(self.outputs).resolve()
        if not isinstance(self.version, str):
            raise UsageError(f"The version must be a string, got {self.version!r}.")
        parse_release(self.version)
        from releaselib.infra.config.load import pin_detected

        # A detected configuration is fixed for the whole release (pin_detected).
        self.config = load_config(self.repo)
        self.config = pin_detected(self.config, self.record_dir)
        self.secrets = secret_scan.known_secrets(self.config, remote_url=_remote_url(self.repo, self.config.remote))

    @property
    def record_dir(self) -> Path:
        suffix = "-dry-run" if self.dry_run else ""
        return self.outputs / self.config.package / f"{self.version}{suffix}"

    def run(self, phases: Iterable[str] | None = None) -> list[PhaseOutcome]:
        """Run ``phases`` in order; stop at the first failure by raising :class:`PhaseFailed`.

        The record is written after every attempt, failed ones included.

        The first phase's kernel starts once the run is not refused (its
        parameters and the record checked) and boots while papermill loads and
        a resume is checked; each later one starts while the phase before it
        runs (:mod:`releaselib.engine.kernels`). However this ends, no kernel
        is left running.
        """
        import uuid

        run_id = uuid.uuid4().hex
        # The run's temporary folder is there before the first kernel starts (every kernel works in
        # it) and goes only after the last kernel has ended.
        with _run_tmpdir():
            self._kernels = self._kernel_pool(run_id)
            try:
                return self._run(phases, run_id)
            finally:
                self._kernels.close()
                self._kernels = None

    def _run(self, phases: Iterable[str] | None, run_id: str) -> list[PhaseOutcome]:
        chosen = list(phases) if phases is not None else phase_names(self.config)
        for added in phases_for(self.config):
            if added.name in chosen and not added.bundled:
                require_contract(added.runbook)  # a phase the project added, before anything changes
        self._check_parameter_names(chosen)
        outcomes: list[PhaseOutcome] = []
        lock = release_lock(self.outputs / self.config.package, self.version, self.repo, run_id)
        with interrupts.signals_interrupt(), lock:
            ensure_gitattributes(self.outputs)
            record = Record.load(self.record_dir)
            record.secrets = dict(self.secrets)
            if record.exists and not self.resume and any(record.succeeded(p) for p in chosen):
                done = [p for p in chosen if record.succeeded(p)]
                raise UsageError(
                    f"A record of {self.config.package} {self.version} already exists in {self.record_dir} "
                    f"with {', '.join(done)} done.",
                    hint=f"Continue it with `releaselib run {self.version} --resume`, "
                    "or choose the phases to re-run with --phases.",
                )
            # The run goes ahead: the first kernel boots while the record is written, papermill loads and
            # a resume is checked. (Started before the refusals above, ending it would wait for it to boot.)
            assert self._kernels is not None
            self._kernels.start_ahead()
            record.initialise(
                package=self.config.package,
                version=self.version,
                repo=self.repo,
                remote=self.config.remote,
                remote_url=_remote_url(self.repo, self.config.remote),
                phases=phase_names(self.config),
            )
            record.save()
            if self.resume and record.entries and not self.dry_run:
                from releaselib.engine.resume import check_resume

                check_resume(record, self.config, self.repo, self.version)
            to_run = [phase for phase in chosen if not (self.resume and record.succeeded(phase))]
            for phase in chosen:
                if phase not in to_run:
                    latest = record.latest(phase) or {}
                    outcome = PhaseOutcome(phase, SUCCEEDED, "done in an earlier attempt", 0.0, None,
                                           latest.get("attempt", 0), latest.get("values", {}), skipped=True)
                    outcomes.append(outcome)
                    self._notify("skip", phase, outcome)
                    continue
                self._notify("start", phase, None)
                outcome = self.run_phase(phase, record, chosen, ahead=phase != to_run[-1])
                outcomes.append(outcome)
                self._notify("end", phase, outcome)
                if phase in REMOTE_PHASES:
                    self._anchor(record, required=outcome.ok)
                if not outcome.ok:
                    raise PhaseFailed(
                        f"Phase {phase} failed: {outcome.reason}\nNotebook: {outcome.notebook}",
                        hint=self._resume_hint(phase),
                    )
            self._anchor(record)  # the end of the release
        return outcomes

    def _kernel_pool(self, run_id: str | None = None) -> KernelPool:
        from releaselib.engine.kernels import KernelPool
        from releaselib.infra.processes import RUN_ID_ENV

        env = {"RELEASELIB_OUTPUTS": str(self.outputs)}
        if self.config.detected:  # a kernel started ahead reads the pinned detection too (pin_detected)
            env[CONFIG_FILE_ENV] = str(self.record_dir / PINNED_NAME)
        if run_id:
            env[RUN_ID_ENV] = run_id  # as release_lock sets it, for a kernel started before the lock
        return KernelPool(self.kernel_name, cwd=self.repo, env=env)

    def _anchor(self, record: Record, required: bool = True) -> None:
        """Push the record's anchor (record/anchor.py) once a phase that changes the remote has run.

        After a failed phase it is pushed if it can be (the failure is the message);
        after a successful one a failure to anchor stops the run (GitError).
        """
        from releaselib.record.anchor import push_anchor

        head = record.entries[-1].get("hash") if record.entries else None
        if self.dry_run or head is None or head == getattr(self, "_anchored", None):
            return
        if not any(entry.get("phase") in REMOTE_PHASES and not entry.get("dry_run") for entry in record.entries):
            return
        try:
            push_anchor(record, self.repo, self.config.remote, timeout=self.config.push_timeout)
        except ReleaseError as exc:
            if required:
                raise ReleaseError(
                    f"The record could not be anchored on {self.config.remote}: {exc.message}",
                    hint=f"Once the remote is reachable, run `releaselib run {self.version} --resume` "
                    "(it anchors the record and redoes nothing).",
                ) from exc
            return
        self._anchored = head

    def _check_parameter_names(self, chosen: Sequence[str]) -> None:
        """Every given parameter must be declared by at least one chosen runbook."""
        declared: set[str] = set()
        for phase in chosen:
            declared.update(runbook_parameters(runbook_path(phase, self.config)))
        for name, value in self.parameters.items():
            # Before any phase runs: a credential given for a late phase must not
            # let the early phases change the world first.
            if secret_scan.parameter_secrets({name: value}, self.secrets):
                raise UsageError(
                    f"Parameter {name!r} looks like a credential (its name, or a value that contains a secret "
                    "of the environment or of a configured URL); credentials are never passed as parameters (papermill writes parameters "
                    "into the archived notebook).",
                    hint="Set it in the environment instead (e.g. TWINE_PASSWORD), and run again; nothing was changed.",
                )
        for name in self.parameters:
            if name in CORE_PARAMETERS:
                raise UsageError(
                    f"Parameter {name!r} is set by the runner itself.",
                    hint="Use the command's own options (VERSION, --repo, --dry-run, --outputs).",
                )
            if name not in declared:
                from difflib import get_close_matches

                close = get_close_matches(name, sorted(declared), n=1)
                suggestion = f" Did you mean {close[0]!r}?" if close else ""
                raise UsageError(
                    f"No phase of this run ({', '.join(chosen)}) has a parameter {name!r}.{suggestion}",
                    hint="Their parameters are: " + ", ".join(sorted(declared - set(CORE_PARAMETERS))),
                )

    def _resume_hint(self, phase: str) -> str:
        command = f"releaselib run {self.version} --resume"
        if self.repo != Path.cwd().resolve():
            command += f" --repo {self.repo}"
        if self.outputs != (Path.cwd() / "outputs").resolve():
            command += f" --outputs {self.outputs}"
        if self.dry_run:
            command += " --dry-run"
        return f"Read the failing cell in the notebook, fix the cause, then run: {command}"

    def _notify(self, event: str, phase: str, outcome: PhaseOutcome | None) -> None:
        if self.progress is not None:
            self.progress(event, phase, outcome)

    def run_phase(self, phase: str, record: Record, chosen: Sequence[str] = (), *, ahead: bool = False) -> PhaseOutcome:
        """Execute one phase's runbook in a fresh kernel and archive the attempt.

        With ``ahead`` (another phase follows), the next phase's kernel starts
        while this one runs (inside :meth:`run` only).
        """
        import papermill

        from releaselib.engine.notebook_engine import register as staged_engine
        from releaselib.infra.git import head_commit

        runbook = runbook_path(phase, self.config)
        declared = runbook_parameters(runbook)
        given = {name: value for name, value in self.parameters.items() if name in declared}
        params = coerce_parameters(runbook, given, self.secrets)
        params.update(
            version=self.version, repo=str(self.repo), dry_run=self.dry_run, outputs=str(self.outputs)
        )
        if "phases" in declared and "phases" not in given:
            params["phases"] = ",".join(chosen)
        attempt = len(record.attempts(phase)) + 1
        name = f"{phase}.ipynb" if attempt == 1 else f"{phase}.attempt{attempt}.ipynb"
        commit_before = _safe(lambda: head_commit(self.repo))
        started = now_iso()
        clock = time.perf_counter()
        staging = Path(tempfile.mkdtemp(prefix=f"releaselib-{phase}-"))
        staged = staging / name
        error: BaseException | None = None
        interrupted: KeyboardInterrupt | None = None
        env_backup = os.environ.get("RELEASELIB_OUTPUTS")
        os.environ["RELEASELIB_OUTPUTS"] = str(self.outputs)
        config_backup = os.environ.get(CONFIG_FILE_ENV)
        if self.config.detected:  # every kernel reads what was detected at the start (pin_detected)
            os.environ[CONFIG_FILE_ENV] = str(self.record_dir / PINNED_NAME)
        kernels = self._kernels or self._kernel_pool()
        km = None
        try:
            km = kernels.take(ahead=ahead and self._kernels is not None)
            papermill.execute_notebook(
                str(runbook),
                str(staged),
                parameters=params,
                kernel_name=self.kernel_name,
                progress_bar=False,
                cwd=str(self.repo),
                execution_timeout=self.cell_timeout,
                shutdown_kernel="immediate",
                km=km,
                engine_name=staged_engine(),  # progress saved as plain JSON, validated once at the end
            )
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (interrupts.signals_interrupt)
            interrupted = exc
        except Exception as exc:  # noqa: BLE001 - every failure becomes the phase's result
            error = exc
        finally:
            if km is not None:
                kernels.release(km)
            if kernels is not self._kernels:
                kernels.close()
            if env_backup is None:
                os.environ.pop("RELEASELIB_OUTPUTS", None)
            else:
                os.environ["RELEASELIB_OUTPUTS"] = env_backup
            if config_backup is None:
                os.environ.pop(CONFIG_FILE_ENV, None)
            else:
                os.environ[CONFIG_FILE_ENV] = config_backup
        duration = time.perf_counter() - clock
        if interrupted is None:
            return self._conclude(phase, record, runbook, params, attempt, name, staged, staging, error,
                                  started, duration, commit_before)
        # Nothing the phase started may outlive this: end it all, record the attempt, then let the
        # interruption go on up (out of the lock) with further signals ignored meanwhile.
        with interrupts.signals_ignored():
            ended = interrupts.end_phase_processes()
            self._conclude(phase, record, runbook, params, attempt, name, staged, staging, None,
                           started, duration, commit_before, interrupted=(interrupted, ended))
        raise interrupted

    def _conclude(self, phase: str, record: Record, runbook: Path, params: dict[str, Any], attempt: int,
                  name: str, staged: Path, staging: Path, error: BaseException | None, started: str,
                  duration: float, commit_before: str | None,
                  interrupted: tuple[BaseException, list[int]] | None = None) -> PhaseOutcome:
        """Archive the executed notebook, scan what the phase wrote, append the attempt's entry."""
        import nbformat

        from releaselib.infra.git import head_commit

        try:
            # An interruption may have stopped papermill while it wrote the notebook.
            nb = _safe(lambda: nbformat.read(staged, as_version=4)) if staged.exists() else None
            reason = _failure_reason(error) if error is not None else None
            if interrupted is not None:
                reason = interrupts.interrupted_reason(interrupted[0], nb, interrupted[1])
            elif nb is None:
                reason = reason or "papermill wrote no notebook"
            else:
                unfinished = unfinished_cells(nb)
                if unfinished and reason is None:
                    reason = "not every cell completed: " + "; ".join(unfinished)
            archived, leak = self._archive(staged, nb, name)
            if leak:
                reason = leak
            values = values_from_notebook(nb) if nb is not None and not leak else {}
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        log_leak = self._scan_logs()
        if log_leak:
            reason = reason or log_leak
        result = INTERRUPTED if interrupted is not None else SUCCEEDED if reason is None else FAILED
        entry = {
            "phase": phase,
            "attempt": attempt,
            "result": result,
            "reason": reason,
            "mode": "headless",
            "dry_run": self.dry_run,
            "started": started,
            "ended": now_iso(),
            "duration": round(duration, 3),
            "runbook": str(runbook),
            "runbook_sha256": sha256_file(runbook),
            "notebook": archived.name if archived else None,
            "notebook_sha256": sha256_file(archived) if archived else None,
            "parameters": params,
            "values": values,
            "commit_before": commit_before,
            "commit_after": _safe(lambda: head_commit(self.repo)),
        }
        record.append(entry)
        return PhaseOutcome(phase, result, reason, duration, archived, attempt, values)

    def _archive(self, staged: Path, nb: Any, name: str) -> tuple[Path | None, str | None]:
        """Move the executed notebook into the record; redact it if it holds a secret."""
        if nb is None:
            return None, None
        self.record_dir.mkdir(parents=True, exist_ok=True)
        target = self.record_dir / name
        text = staged.read_text(encoding="utf-8")
        leaked = secret_scan.find_secrets(text, self.secrets)
        if leaked:
            text = secret_scan.redact(text, self.secrets)
            from releaselib.record.store import write_atomic

            write_atomic(target, text.encode("utf-8"))
            return target, (
                f"the executed notebook contained the value of {', '.join(leaked)}; "
                "only a redacted copy was archived"
            )
        from releaselib.record.store import write_atomic

        write_atomic(target, text.encode("utf-8"))
        return target, None

    def _scan_logs(self) -> str | None:
        """Scan every other file the phase wrote under the record (logs, the announcement copy, dist/...).

        A text file holding a secret, in any form, is redacted in place; any
        other file holding one is removed. Either way the phase fails, naming the files.
        """
        if not self.secrets or not self.record_dir.exists():
            return None
        leaked_in = []
        for path in sorted(self.record_dir.rglob("*")):
            if not path.is_file() or path.suffix == ".ipynb" or path.name == "record.json":
                continue
            data = path.read_bytes()
            text = data.decode("utf-8", errors="replace")
            if not secret_scan.find_secrets(text, self.secrets):
                continue
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                path.unlink()
            else:
                from releaselib.record.store import write_atomic

                write_atomic(path, secret_scan.redact(text, self.secrets).encode("utf-8"))
            leaked_in.append(str(path.relative_to(self.record_dir)))
        if leaked_in:
            return f"a file of the record contained a secret and was redacted or removed: {', '.join(leaked_in)}"
        return None


@contextmanager
def _run_tmpdir() -> Iterator[Path]:
    """A temporary folder for everything the run's kernels create (``TMPDIR``), removed at the end.

    A kernel that is killed (an interruption) cannot clean up its own build
    folders; removing the run's folder does. The runner's own temporary
    files stay where they were (``tempfile`` fixed its folder at first use).
    """
    tempfile.gettempdir()
    folder = Path(tempfile.mkdtemp(prefix="releaselib-run-"))
    previous = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(folder)
    try:
        yield folder
    finally:
        if previous is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = previous
        interrupts.remove_tree(folder)


def _safe(function: Callable[[], Any]) -> Any:
    try:
        return function()
    except Exception:  # noqa: BLE001 - informative fields only
        return None


def _remote_url(repo: Path, remote: str) -> str | None:
    from releaselib.infra.git import remote_url

    url: str | None = _safe(lambda: remote_url(repo, remote))
    return url


def check_no_secret(path: Path, secrets: Mapping[str, str]) -> None:
    """Raise :class:`SecretLeak` when ``path`` contains a secret value."""
    leaked = secret_scan.find_secrets(path.read_text(encoding="utf-8", errors="replace"), secrets)
    if leaked:
        raise SecretLeak(f"{path} contains the value of {', '.join(leaked)}.", hint="Remove the file and rotate that credential.")


__all__ = [
    "CORE_PARAMETERS", "PhaseOutcome", "Runner", "coerce_parameters", "release_lock",
]
