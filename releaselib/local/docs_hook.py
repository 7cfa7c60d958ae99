"""The docs host of a local release: a hook on the bare remote rebuilds the docs page on push,
as a docs builder (Read the Docs, a CI job) would."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

from releaselib.core.errors import GitError, RepoStateError
from releaselib.infra import processes
from releaselib.local.sandbox import _GIT_TIMEOUT, BRANCH, _git_env

_HOOK_BUILDER = '''\
"""Rebuild the docs page from the tip of main, as a docs builder would.

Written by releaselib.local.sandbox.install_docs_hook; run by hooks/post-receive.
"""
import html
import os
import re
import subprocess
import sys
import tempfile

GIT_DIR = {git_dir!r}
SITE_DIR = {site_dir!r}
PACKAGE = {package!r}
VERSION_FILE = {version_file!r}
VERSION_RE = {version_re!r}
CHANGELOG = {changelog!r}
BRANCH = {branch!r}


def git(*args):
    env = dict(os.environ, GIT_DIR=GIT_DIR)
    return subprocess.run(["git", *args], env=env, capture_output=True, text=True, check=True).stdout


def main():
    source = git("show", BRANCH + ":" + VERSION_FILE)
    match = re.search(VERSION_RE, source, re.MULTILINE)
    if match is None:
        print("docs: no version matching " + VERSION_RE + " in " + VERSION_FILE, file=sys.stderr)
        return 1
    version = match.group("value")
    commit = git("rev-parse", BRANCH).strip()
    try:
        changelog = git("show", BRANCH + ":" + CHANGELOG)
    except subprocess.CalledProcessError:
        changelog = "(no changelog)"
    title = html.escape(PACKAGE + " " + version + " documentation")
    page = (
        "<!DOCTYPE html>\\n<html lang=\\"en\\">\\n<head>\\n<meta charset=\\"utf-8\\">\\n"
        "<title>" + title + "</title>\\n</head>\\n<body>\\n"
        "<h1>" + title + "</h1>\\n"
        "<p>Built from commit <code>" + commit + "</code>.</p>\\n"
        "<h2>Changelog</h2>\\n<pre>" + html.escape(changelog) + "</pre>\\n"
        "</body>\\n</html>\\n"
    )
    os.makedirs(SITE_DIR, exist_ok=True)
    # Write beside the page and rename, so a reader never sees half a page.
    fd, temporary = tempfile.mkstemp(dir=SITE_DIR, prefix=".index-", suffix=".html")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(page)
    os.chmod(temporary, 0o644)
    os.replace(temporary, os.path.join(SITE_DIR, "index.html"))
    print("docs: built " + PACKAGE + " " + version + " documentation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''

_DUNDER_VERSION_RE = r"""__version__\s*=\s*['"](?P<value>[^'"]+)['"]"""

_HOOK_SCRIPT = """\
#!/bin/sh
# Rebuild the docs site when main moves (installed by releaselib.local.sandbox).
status=0
while read old new ref; do
    if [ "$ref" = "refs/heads/{branch}" ]; then
        {python} {builder} || status=$?
    fi
done
exit $status
"""


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def install_docs_hook(
    origin: Path,
    site_dir: Path,
    *,
    package: str,
    version_file: str,
    changelog: str = "doc/changelog.rst",
    branch: str = BRANCH,
    version_re: str | None = None,
) -> None:
    """Make the bare ``origin`` rebuild ``site_dir/index.html`` on every push to ``branch``.

    The page's title and h1 read "<package> <version> documentation", the
    version taken from ``git show <branch>:<version_file>`` by ``version_re``
    (a regex whose group ``value`` is the version; default ``__version__ = "..."``,
    or pass :func:`releaselib.infra.config.pattern_regex` of a version file, e.g.
    ``version = "{version}"`` in pyproject.toml);
    the page also names the commit and shows the changelog as plain text. The
    page is written once now, so the site shows the current version before any
    push. The hook runs with this interpreter (``sys.executable``).

    Raises :class:`RepoStateError` when ``origin`` is not a bare repository and
    :class:`GitError` when the first build fails (e.g. no ``version_file`` on
    ``branch``).
    """
    origin = Path(origin).resolve()
    site_dir = Path(site_dir).resolve()
    hooks = origin / "hooks"
    if not (origin / "HEAD").is_file() or not (origin / "refs").is_dir():
        raise RepoStateError(
            f"{origin} is not a bare git repository.",
            hint="Pass the origin of a sandbox made by create_sandbox.",
        )
    hooks.mkdir(exist_ok=True)
    builder = hooks / "releaselib_docs.py"
    builder.write_text(
        _HOOK_BUILDER.format(
            git_dir=str(origin),
            site_dir=str(site_dir),
            package=package,
            version_file=version_file,
            version_re=version_re or _DUNDER_VERSION_RE,
            changelog=changelog,
            branch=branch,
        ),
        encoding="utf-8",
    )
    hook = hooks / "post-receive"
    hook.write_text(
        _HOOK_SCRIPT.format(
            branch=branch,
            python=_shell_quote(sys.executable),
            builder=_shell_quote(str(builder)),
        ),
        encoding="utf-8",
    )
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    try:
        result = processes.run([sys.executable, str(builder)], env=_git_env(), timeout=_GIT_TIMEOUT,
                               merge_stderr=False)  # fmt: skip
    except processes.CommandTimeout as exc:
        raise GitError(
            f"Building the first docs page from {origin} took longer than {_GIT_TIMEOUT:.0f} s.",
            hint="Check that nothing else holds the bare repository.",
        ) from exc
    if result.returncode != 0:
        raise GitError(
            f"Building the first docs page from {origin} failed: {(result.stderr or result.stdout).strip()}",
            hint=f"Check that {version_file} exists on {branch} and holds the version.",
        )
