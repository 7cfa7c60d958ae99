"""The ``releaselib`` command: thin callers of the library, one error edge.

Every command parses its arguments and calls library functions. Library code
raises :class:`ReleaseError`; :func:`main` is the only place that catches it,
prints one clear message (what went wrong, then what to do next) and exits
non-zero.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from releaselib.core.errors import ReleaseError, UsageError
from releaselib.engine.progress import outcome_table, progress_printer

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


# -- helpers ----------------------------------------------------------------
def _parameters(pairs: Sequence[str] | None) -> dict[str, str]:
    result = {}
    for pair in pairs or ():
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"Parameter {pair!r} is not NAME=VALUE.", hint="Example: -p next_version=3.0.dev0")
        result[name.strip()] = value
    return result


def _outputs(args: argparse.Namespace) -> Path:
    return Path(args.outputs).resolve() if args.outputs else (Path.cwd() / "outputs").resolve()


# -- commands ---------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    from releaselib.core.registry import resolve_phases
    from releaselib.engine.runner import Runner

    runner = Runner(
        repo=Path(args.repo),
        version=args.version,
        outputs=_outputs(args),
        dry_run=args.dry_run,
        resume=args.resume,
        parameters=_parameters(args.param),
        cell_timeout=args.cell_timeout,
        progress=progress_printer(console),
    )
    phases = resolve_phases(args.phases, runner.config)
    outcomes = runner.run(phases)
    console.print(outcome_table(outcomes, f"{runner.config.package} {args.version}" + (" (dry run)" if args.dry_run else "")))
    console.print(f"Record: {runner.record_dir}")
    return 0


def cmd_rehearse(args: argparse.Namespace) -> int:
    from releaselib.local.rehearse import rehearse

    result = rehearse(
        args.version,
        args.repo,
        phases=args.phases,
        workdir=args.workdir,
        keep=args.keep,
        parameters=_parameters(args.param),
        cell_timeout=args.cell_timeout,
        progress=progress_printer(console),
        resume=args.resume,
    )
    console.print(outcome_table(result.outcomes, f"{args.version} (rehearsal)"))
    console.print(result.summary(), markup=False)
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from releaselib.core.registry import resolve_phases
    from releaselib.engine.context import start
    from releaselib.phases import preflight

    release = start("plan", args.version, repo=args.repo, dry_run=True, outputs=_outputs(args))
    phases = resolve_phases(args.phases, release.config)
    console.print(str(release), markup=False)
    console.print("\n".join(preflight.configuration_lines(release)), markup=False)
    console.print()
    report = preflight.run_checks(release, phases)
    console.print(str(report), markup=False)
    console.print()
    plan_problems: list[ReleaseError] = []
    plans = preflight.release_plan(release, phases, problems=plan_problems)
    console.print("What each phase would do:", markup=False)
    overview = preflight.phase_overview(release, set(phases), plans)
    console.print("\n".join("  " + line for line in overview), markup=False)
    console.print()
    for plan in plans:
        console.print(str(plan), markup=False)
    if plan_problems or not report.ok:
        from releaselib.core.errors import PreflightFailed

        console.print()
        raise PreflightFailed(report.problems + plan_problems)
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    from releaselib.infra.config import load_config
    from releaselib.core.versions import parse_release
    from releaselib.phases.api import check_api, ledger_cache_dir

    parse_release(args.version)
    config = load_config(Path(args.repo).resolve())
    report = check_api(config.root, config, args.version, ref=args.ref, against=args.against,
                       cache_dir=ledger_cache_dir(_outputs(args), config.package))
    table = Table(title=f"{config.package} {args.version} against {report.against or '(no earlier release)'}")
    for column in ("change", "object", "where", "detail", "verdict"):
        table.add_column(column)
    for row in report.rows():
        style = "red" if row[4].startswith("REFUSED") else ""
        table.add_row(*(escape(cell) for cell in row), style=style)
    console.print(table if report.changes else f"{table.title}: no change to the public API", markup=False)
    for violation in report.blocking:
        change = violation.change
        console.print(f"[red]✘ {escape(change.path)}[/] ({escape(change.where)}): {escape(violation.rule)}. "
                      f"{escape(violation.todo)}")
    for name, since, count in report.removable():
        console.print(f"{name} may be removed now: deprecated since {since}, in {count} releases", markup=False)
    if report.ledger.entries:
        ledger = Table(title="Deprecation ledger")
        ledger.add_column("release")
        ledger.add_column("deprecated names")
        for tag, names in report.ledger_rows():
            ledger.add_row(escape(tag), escape(names))
        if report.ledger_rows():
            console.print(ledger)
        if report.ledger_note():
            console.print(report.ledger_note(), markup=False)
    console.print(f"{report.summary()} ({report.seconds:.1f}s)", markup=False)
    if report.blocking and report.enforce:
        from releaselib.core.errors import CompatibilityError

        raise CompatibilityError(
            f"{config.package} {args.version} breaks the compatibility policy: {len(report.blocking)} change(s) "
            "marked ✘ above.",
            hint="Each ✘ line says what to do: deprecate first, release as a minor or major version, or add a "
            "[[tool.releaselib.api.waivers]] entry with the object and a reason.",
        )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from releaselib.core.registry import phase_names, phase_order
    from releaselib.infra.config import load_config
    from releaselib.record.store import Record

    config = load_config(Path(args.repo).resolve())
    directory = _outputs(args) / config.package / args.version
    record = Record.load(directory)
    if not record.exists:
        raise UsageError(
            f"No record of {config.package} {args.version} in {directory}.",
            hint=f"Start the release with `releaselib run {args.version}`, or pass --outputs.",
        )
    table = Table(title=f"{config.package} {args.version}")
    for column in ("phase", "result", "attempts", "last run"):
        table.add_column(column)
    recorded = {str(entry.get("phase")) for entry in record.entries}
    for phase in sorted(set(phase_names(config)) | recorded, key=phase_order):
        attempts = record.attempts(phase)
        if not attempts:
            table.add_row(phase, "[dim]not run[/]", "0", "")
            continue
        latest = attempts[-1]
        style = "green" if latest["result"] == "succeeded" else "red"
        table.add_row(phase, f"[{style}]{latest['result']}[/]", str(len(attempts)), latest.get("ended", ""))
    console.print(table)
    return 0


def cmd_check_runbook(args: argparse.Namespace) -> int:
    from releaselib.engine.contract import require_contract

    for path in args.paths:
        require_contract(path)
        console.print(f"{path}: keeps the runbook contract", markup=False)
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from releaselib.infra.config import write_init

    path = write_init(Path(args.repo).resolve(), args.config)
    what = "a [tool.releaselib] table into" if path.name == "pyproject.toml" else "the detected configuration to"
    console.print(
        f"Wrote {what} {path}. Read it, fill in the commented tables for the phases you run, "
        f"then `releaselib plan VERSION{' --config ' + str(path) if args.config else ''}`.",
        markup=False,
    )
    return 0


def cmd_open(args: argparse.Namespace) -> int:
    from releaselib.engine.lab import lab_command, run_lab
    from releaselib.engine.manual import archive_command, prepare_manual
    from releaselib.core.registry import resolve_phases
    from releaselib.infra.config import load_config

    repo = Path(args.repo).resolve()
    outputs = _outputs(args)
    path = prepare_manual(args.phase, args.version, repo=repo, outputs=outputs, force=args.force)
    if args.no_launch:
        console.print(str(path), markup=False)
        return 0
    launch = lab_command(path, repo=repo, read_only=[outputs], extra=args.jupyter_args)
    (phase,) = resolve_phases(args.phase, load_config(repo))
    console.print(
        f"Prepared {path}\n"
        f"JupyterLab (on 127.0.0.1 only; Ctrl-C here stops it):\n  {launch.url}\n"
        f"Set dry_run in the notebook's parameters cell, run the cells, then save (Ctrl+S) and close it, and:\n"
        f"  {archive_command(phase, args.version, repo=repo, outputs=outputs)}\n"
        f"The record ({outputs}) is read-only in Lab; archiving is the only way in.",
        markup=False,
    )
    return run_lab(launch)


def cmd_demo(args: argparse.Namespace) -> int:
    from releaselib.local.demo import run_demo

    return run_demo(version=args.version, workdir=args.workdir, keep=args.keep, console=console)


# -- reading the record ---------------------------------------------------------
def _release_package(args: argparse.Namespace, version: str | None) -> str:
    from releaselib.record.audit import resolve_package

    return resolve_package(_outputs(args), version, args.package, Path(args.repo))


def cmd_review(args: argparse.Namespace) -> int:
    from releaselib.record.audit import review_text

    package = _release_package(args, args.version)
    console.print(review_text(_outputs(args), package, args.version), markup=False, end="")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from releaselib.core.errors import RecordError
    from releaselib.record.verify import verify_record

    package = _release_package(args, args.version)
    signers = Path(args.allowed_signers).resolve() if args.allowed_signers else None
    found = verify_record(_outputs(args), package, args.version, index=args.index, repo=Path(args.repo),
                          anchor=not args.no_anchor, allowed_signers=signers)
    for line in found.unchecked:
        err_console.print(f"[bold yellow]not checked:[/] {escape(line)}")
    if found.problems:
        raise RecordError(
            f"The record of {package} {args.version} is not whole ({len(found.problems)} problem(s)):\n"
            + "\n".join(f"  - {problem}" for problem in found.problems),
            hint="Restore the record from version control or a backup; a changed notebook or entry "
            "cannot be re-signed, only re-run (releaselib run VERSION --phases PHASE).",
        )
    checked = f", and agrees with {' and with '.join(found.checked)}" if found.checked else ""
    console.print(f"The record of {package} {args.version} is whole{checked}.", markup=False)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from releaselib.record.report import write_report

    package = _release_package(args, args.version) if args.version else args.package
    path = write_report(_outputs(args), package, args.version)
    console.print(str(path), markup=False)
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from releaselib.record.audit import diff_text

    package = _release_package(args, args.v1)
    console.print(diff_text(_outputs(args), package, args.v1, args.v2), markup=False, end="")
    return 0


def cmd_archive(args: argparse.Namespace) -> int:
    from releaselib.core.errors import PhaseFailed
    from releaselib.engine.manual import archive_manual

    notebook = Path(args.notebook) if args.notebook else None
    entry = archive_manual(args.phase, args.version, repo=Path(args.repo), outputs=_outputs(args), notebook=notebook)
    console.print(
        f"Archived {entry['notebook']} as {entry['phase']} attempt {entry['attempt']} "
        f"(run by hand, {entry['result']}{', dry run' if entry['dry_run'] else ''}).",
        markup=False,
    )
    if entry["result"] != "succeeded":
        raise PhaseFailed(
            f"Phase {entry['phase']} (run by hand) failed: {entry['reason']}",
            hint=f"Fix the cause, then `releaselib open {args.phase} {args.version}` and run it again, "
            "or continue headless with `releaselib run VERSION --resume`.",
        )
    return 0


# -- parser -----------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="releaselib", description="Release runbooks for Python libraries, run with papermill.")
    parser.add_argument("--version", action="version", version=f"releaselib {_own_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--repo", default=".", help="the project to release (default: .)")
        p.add_argument("--outputs", default=None, help="where records go (default: ./outputs)")
        config_option(p)

    def config_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--config", default=None, metavar="FILE",
            help="a configuration file outside the project (the keys of [tool.releaselib] at its top level); "
            "default: releaselib.toml, then [tool.releaselib] in pyproject.toml, then detection",
        )

    p = sub.add_parser("run", help="run the release phases")
    p.add_argument("version", help='the release version, e.g. "2.2"')
    common(p)
    p.add_argument("--phases", default=None, help="comma-separated names or numbers (default: all)")
    p.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")
    p.add_argument("--resume", action="store_true", help="continue a release from its record")
    p.add_argument("-p", "--param", action="append", metavar="NAME=VALUE", help="a runbook parameter")
    p.add_argument("--cell-timeout", type=float, default=3600.0, help="seconds a cell may run (default 3600)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("rehearse", help="run the whole release for real against throwaway copies and local servers")
    p.add_argument("version", help='the release version, e.g. "2.2"')
    p.add_argument("--repo", default=".", help="the project to release (default: .)")
    config_option(p)
    p.add_argument("--phases", default=None, help="comma-separated names or numbers (default: all)")
    p.add_argument("--workdir", default=None, help="where the clone, servers and record go (default: a temp folder)")
    p.add_argument("--keep", action="store_true", help="keep the clone and the remote's copy for inspection")
    p.add_argument("--resume", action="store_true",
                   help="continue the failed rehearsal in --workdir where it stopped (fresh local servers)")
    p.add_argument("-p", "--param", action="append", metavar="NAME=VALUE", help="a runbook parameter")
    p.add_argument("--cell-timeout", type=float, default=3600.0, help="seconds a cell may run (default 3600)")
    p.set_defaults(func=cmd_rehearse)

    p = sub.add_parser("plan", help="preflight checks and what each phase would do; changes nothing")
    p.add_argument("version")
    common(p)
    p.add_argument("--phases", default=None)
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("api", help="the public API against the last release, judged by the compatibility policy")
    p.add_argument("version", help='the release version, e.g. "2.2"')
    common(p)
    p.add_argument("--ref", default=None, help="the commit to check (default: the working tree)")
    p.add_argument("--against", default=None, help="the tag to compare with (default: the last release below VERSION)")
    p.set_defaults(func=cmd_api)

    p = sub.add_parser("status", help="which phases of a release are done")
    p.add_argument("version")
    common(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("check-runbook", help="check notebooks against the runbook contract (for a project's own phases)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.set_defaults(func=cmd_check_runbook)

    p = sub.add_parser(
        "init", help="write the detected configuration: a [tool.releaselib] table in pyproject.toml, "
        "else releaselib.toml (or --config FILE)"
    )
    p.add_argument("--repo", default=".")
    p.add_argument("--config", default=None, metavar="FILE", help="write the configuration to FILE instead")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser(
        "open", help="prepare a phase's notebook and open it in JupyterLab",
        description="Arguments after `--` go to `jupyter lab` (e.g. `releaselib open bump 2.2 -- --allow-root`).",
    )
    p.add_argument("phase")
    p.add_argument("version")
    common(p)
    p.add_argument("--no-launch", action="store_true", help="only prepare it and print its path")
    p.add_argument("--force", action="store_true", help="overwrite a working copy left by an earlier `open`")
    p.set_defaults(func=cmd_open, jupyter_args=[])

    p = sub.add_parser("demo", help="release the bundled sample project against local servers")
    p.add_argument("--version", dest="version", default="1.1", help="the version to release (default 1.1)")
    p.add_argument("--workdir", default=None, help="where to build the sandbox (default: a temp folder)")
    p.add_argument("--keep", action="store_true", help="keep the sandbox for inspection")
    p.set_defaults(func=cmd_demo)

    def reading(p: argparse.ArgumentParser) -> None:
        common(p)
        p.add_argument("--package", default=None, help="the package (default: the one configured in --repo, "
                       "or the only one in outputs)")

    p = sub.add_parser("review", help="a release at a glance, from its record")
    p.add_argument("version")
    reading(p)
    p.set_defaults(func=cmd_review)

    p = sub.add_parser("verify", help="check that a release record is whole and untouched")
    p.add_argument("version")
    reading(p)
    p.add_argument("--index", action="store_true", help="also check the index serves every recorded file")
    p.add_argument("--no-anchor", action="store_true", help="do not compare with the anchor on the remote")
    p.add_argument("--allowed-signers", default=None, metavar="FILE",
                   help="require the anchor's SSH signature to verify against this allowed-signers file")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("report", help="write static HTML pages of the records (one release, or all)")
    p.add_argument("version", nargs="?", default=None)
    reading(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("diff", help="two releases side by side")
    p.add_argument("v1")
    p.add_argument("v2")
    reading(p)
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("archive", help="archive a notebook run by hand (after `open`) into the record")
    p.add_argument("phase")
    p.add_argument("version")
    common(p)
    p.add_argument("--notebook", default=None, help="the executed notebook (default: the one `open` prepared)")
    p.set_defaults(func=cmd_archive)
    return parser


def _own_version() -> str:
    from releaselib import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, dispatch, and turn a ReleaseError into one message and an exit code."""
    from releaselib.core.imports import skip_iri_grammar

    skip_iri_grammar()  # before papermill or nbformat is imported
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # `releaselib open PHASE VERSION -- ARGS...`: everything after `--` goes to `jupyter lab`.
    passthrough: list[str] = []
    if argv and argv[0] == "open" and "--" in argv:
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1 :]
    args = parser.parse_args(argv)
    if passthrough:
        args.jupyter_args = passthrough
    os.environ.setdefault("GIT_TERMINAL_PROMPT", "0")
    if getattr(args, "config", None) and args.command != "init":
        from releaselib.infra.config.load import CONFIG_FILE_ENV

        # Through the environment, so every kernel of the run reads the same file.
        os.environ[CONFIG_FILE_ENV] = str(Path(args.config).expanduser().resolve())
    try:
        return int(args.func(args) or 0)
    except ReleaseError as exc:
        err_console.print(f"[bold red]error:[/] {escape(exc.message)}")
        if exc.hint:
            err_console.print(f"[bold]TIP:[/] {escape(exc.hint)}")
        return exc.exit_code
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM during a run (engine.interrupts)
        # The kernel client's pending task died with its kernel, as it should: asyncio would print
        # its traceback ("Task exception was never retrieved") when it is collected at exit.
        import logging

        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        err_console.print(
            f"Interrupted ({getattr(exc, 'signal_name', 'SIGINT')}). Every process of the running phase was "
            "ended before this message; its attempt is in the record as `interrupted`. "
            "Resume with `releaselib run VERSION --resume`."
        )
        return int(getattr(exc, "exit_code", 130))
    except Exception as exc:  # noqa: BLE001 - the edge: one clear message, never a bare traceback
        return _unexpected(exc)


def _unexpected(exc: BaseException) -> int:
    """Print one message for an error releaselib did not foresee, with the traceback kept in a log."""
    import errno
    import tempfile
    import time
    import traceback

    from releaselib.core import secrets as secret_scan

    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    known = secret_scan.secret_values(name for name in os.environ if secret_scan.looks_like_secret_name(name))
    text = secret_scan.strip_userinfo(secret_scan.redact(text, known))
    log = Path(tempfile.gettempdir()) / f"releaselib-error-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.log"
    try:
        log.write_text(text, encoding="utf-8")
        where = f"The full traceback is in {log}."
    except OSError:
        where = "The traceback could not be written to a log (the disk may be full)."
    summary = secret_scan.strip_userinfo(secret_scan.redact(str(exc), known))[:500]
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        err_console.print(f"[bold red]error:[/] no space left on the device: {escape(summary)}")
        err_console.print(
            f"[bold]TIP:[/] Free some space (check `df -h`), then run the same command again; a release "
            f"continues with `releaselib run VERSION --resume`. {escape(where)}"
        )
        return 1
    err_console.print(f"[bold red]error:[/] releaselib stopped on an unexpected {type(exc).__name__}: {escape(summary)}")
    err_console.print(
        f"[bold]TIP:[/] {escape(where)} If a release was running, `releaselib status VERSION` shows where it "
        "stopped and `releaselib run VERSION --resume` continues it; please report this error with the log."
    )
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
