"""``releaselib demo``: a complete release of the bundled sample, against real local servers.

The sandbox is a temporary folder holding the sample project as a git
repository, a bare ``origin``, a pypiserver, an SMTP catcher and a docs
server whose pages a hook on ``origin`` rebuilds on push. The record is
written inside the sandbox, so the demo leaves the caller's tree clean, and
every server the demo starts is stopped before it returns.
"""

from __future__ import annotations

import os
import secrets as token
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib
from rich.console import Console

from releaselib.core.registry import phase_names
from releaselib.engine.progress import outcome_table, progress_printer
from releaselib.engine.runner import Runner
from releaselib.record.report import render_pages

INDEX_USER = "releaser"
SMTP_USER = "releaser"


@dataclass
class Environment:
    """A sandbox and its servers, ready for a release."""

    root: Path
    repo: Path
    origin: Path
    outputs: Path
    servers: Any
    env: dict[str, str]


@contextmanager
def scoped_env(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def server_tables(servers: Any) -> dict[str, dict[str, Any]]:
    """The ``[tool.releaselib]`` tables that point a release at ``servers``."""
    return {
        "publish": {"repository-url": servers.index.upload_url, "index-url": servers.index.simple_url},
        "docs-check": {"url": servers.docs.url, "timeout": 60.0, "interval": 0.2},
        "announce": {
            "smtp-host": servers.mail.host,
            "smtp-port": servers.mail.port,
            "starttls": False,
            "user": SMTP_USER,
            "sender": "Release Manager <release@example.org>",
            "to": ["bsonlite-announce@example.org"],
            "links": ["Docs: " + servers.docs.url],
        },
    }


def matrix_table(project: Path, pythons: Sequence[str]) -> dict[str, Any]:
    """``project``'s ``[tool.releaselib.matrix]`` table with ``python`` narrowed to ``pythons``."""
    document = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    table = dict(document.get("tool", {}).get("releaselib", {}).get("matrix", {}))
    table["python"] = list(pythons)
    return table


@contextmanager
def release_environment(root: Path, *, project: Path | None = None, index_password: str | None = None,
                        smtp_password: str | None = None,
                        pythons: Sequence[str] | None = None) -> Iterator[Environment]:
    """A sandbox project wired to freshly started local servers; everything stops on exit.

    Credentials are placed in the environment (the only way they reach
    kernels) for the duration of the block. ``pythons`` narrows the matrix
    (and so the wheels built) to those versions, in the first commit.
    """
    from releaselib.local.docs_hook import install_docs_hook
    from releaselib.local.sandbox import SAMPLE_DIR, create_sandbox
    from releaselib.local.servers import LocalServers

    root = Path(root).resolve()
    index_password = index_password or token.token_urlsafe(16)
    smtp_password = smtp_password or token.token_urlsafe(16)
    with LocalServers(root / "servers", index_password=index_password, smtp_password=smtp_password) as servers:
        tables = server_tables(servers)
        if pythons:
            tables["matrix"] = matrix_table(project or SAMPLE_DIR, pythons)
        sandbox = create_sandbox(root, project=project, config_tables=tables)
        install_docs_hook(sandbox.origin, servers.docs.site_dir, package="bsonlite",
                          version_file="src/bsonlite/__init__.py")
        env = {
            "TWINE_USERNAME": INDEX_USER,
            "TWINE_PASSWORD": index_password,
            "RELEASELIB_SMTP_PASSWORD": smtp_password,
        }
        with scoped_env(env):
            yield Environment(root, sandbox.repo, sandbox.origin, root / "outputs", servers, env)


def run_demo(*, version: str = "1.1", workdir: str | None = None, keep: bool = False,
             console: Console | None = None) -> int:
    """Release the sample as ``version``; print progress, the results table and where the record is."""
    console = console or Console()
    root = Path(workdir).resolve() if workdir else Path(tempfile.mkdtemp(prefix="releaselib-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    record_dir = None
    # Each phase's notebook page is rendered while the next phase runs: the report at the end is quick.
    pages = ThreadPoolExecutor(max_workers=1, thread_name_prefix="releaselib-pages")
    try:
        with release_environment(root) as env:
            console.print(f"[bold]Sandbox[/] {root}")
            console.print(env.servers.describe(), markup=False)
            printer = progress_printer(console)

            def progress(event: str, phase: str, outcome: Any) -> None:
                printer(event, phase, outcome)
                if event == "end" and record_dir is not None:
                    pages.submit(render_pages, record_dir)  # a failure here is the report's to tell, at the end

            # The sample has no notes for the release: the demo releases the draft (recorded as accepted).
            runner = Runner(repo=env.repo, version=version, outputs=env.outputs, progress=progress,
                            parameters={"accept_draft": True})
            record_dir = runner.record_dir
            outcomes = runner.run(phase_names(runner.config))
            console.print(outcome_table(outcomes, f"bsonlite {version}: released"))
            pages.shutdown(wait=True)
            _finish(env, version, console)
    finally:
        pages.shutdown(wait=True, cancel_futures=True)
        if not keep:
            for name in ("bsonlite", "origin.git", "servers"):
                shutil.rmtree(root / name, ignore_errors=True)
    console.print(f"[bold]Record[/] {record_dir}")
    if keep:
        console.print(f"[bold]Sandbox kept[/] {root} (origin: {root / 'origin.git'})")
    else:
        console.print("Sandbox removed (the record is kept); use --keep to inspect the repository and origin.")
    console.print("All servers stopped.")
    return 0


def _finish(env: Environment, version: str, console: Console) -> None:
    """Hook for what the demo shows while the servers are still up (review, verify)."""
    try:
        from releaselib.record.audit import review_text
        from releaselib.record.verify import verify_record
    except ImportError:
        return
    console.print(review_text(env.outputs, "bsonlite", version), markup=False, highlight=False)
    found = verify_record(env.outputs, "bsonlite", version, index=True, repo=env.repo)
    if found.problems:
        from releaselib.core.errors import RecordError

        raise RecordError("verify found problems:\n" + "\n".join(found.problems))
    if not any("anchor" in line for line in found.checked):
        from releaselib.core.errors import RecordError

        raise RecordError("verify could not compare the record with its anchor on the demo's remote:\n"
                          + "\n".join(found.unchecked))
    console.print(f"[green]verify --index: the record is whole, and agrees with {' and with '.join(found.checked)}[/]",
                  markup=True, highlight=False)
    from releaselib.record.report import write_report

    page = write_report(env.outputs, "bsonlite", version)
    console.print(f"[bold]Report[/] {page}")
