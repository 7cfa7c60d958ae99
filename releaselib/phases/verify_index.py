"""Prove a published release from the outside: install it from the index alone, as a user would.

:func:`verify_from_index` installs ``<package>==<version>`` into a fresh
virtual environment from that index alone (pip's configuration, other
indexes, find-links and cache switched off), imports it, checks its version,
and checks that the file pip chose is byte-for-byte the one that was built.
:mod:`releaselib.phases.publish` uploads first, and re-exports what is here.
"""

from __future__ import annotations

import hashlib
import html
import importlib.metadata
import json
import os
import sys
import tempfile
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.tags import sys_tags
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from releaselib.core.errors import PublishError
from releaselib.core.secrets import strip_userinfo
from releaselib.infra import processes
from releaselib.infra.index import index_files

if TYPE_CHECKING:
    from releaselib.engine.context import Release

__all__ = ["VerifyResult", "verify_from_index", "verify_release"]

RESUME = "then `releaselib run VERSION --resume`"
#: ``pip --python`` (pip runs on another environment's interpreter) came with pip 22.3.
_PIP_WITH_PYTHON_OPTION = Version("22.3")


@dataclass
class VerifyResult:
    """What installing the release from the index showed."""

    package: str
    version: str
    index_url: str
    python: str
    installed_version: str
    imported_version: str
    file: str  # the file pip chose from the index
    sha256: str  # its sha256, downloaded from the index
    expected_sha256: str
    index_hashes_ok: dict[str, bool] = field(default_factory=dict)
    log: Path | None = None

    @property
    def ok(self) -> bool:
        return (
            self.installed_version == self.version
            and self.imported_version in ("", self.version)  # "": the package has no __version__
            and self.sha256 == self.expected_sha256
            and all(self.index_hashes_ok.values())
        )

    def as_record(self) -> dict[str, Any]:
        return {
            "package": self.package,
            "version": self.version,
            "index_url": self.index_url,
            "python": self.python,
            "installed_version": self.installed_version,
            "imported_version": self.imported_version,
            "file": self.file,
            "sha256": self.sha256,
            "expected_sha256": self.expected_sha256,
            "index_hashes_ok": dict(self.index_hashes_ok),
            "ok": self.ok,
        }

    def __str__(self) -> str:
        lines = [
            (
                f"{self.package}=={self.version} installed from {self.index_url} on Python {self.python}: "
                f"{'OK' if self.ok else 'MISMATCH'}"
            ),
            f"  installed file  {self.file}",
            f"  sha256          {self.sha256} ({'same as built' if self.sha256 == self.expected_sha256 else 'DIFFERS'})",
            (f"  metadata version {self.installed_version}; {self.package}.__version__ "
             f"{self.imported_version or '(none; the metadata version is the check)'}"),
        ]
        for filename, ok in self.index_hashes_ok.items():
            lines.append(f"  index lists {filename}: {'same sha256' if ok else 'DIFFERENT sha256 or missing'}")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        rows = [
            ("result", "OK" if self.ok else "MISMATCH"),
            ("installed from", self.index_url),
            ("python", self.python),
            ("file pip chose", self.file),
            ("sha256 (downloaded)", self.sha256),
            ("sha256 (built)", self.expected_sha256),
            ("version (metadata)", self.installed_version),
            ("version (__version__)", self.imported_version or "(none; the metadata version is the check)"),
        ]
        rows += [(f"index lists {f}", "same sha256" if ok else "DIFFERENT or missing") for f, ok in self.index_hashes_ok.items()]
        body = "".join(f"<tr><th>{html.escape(k)}</th><td><code>{html.escape(v)}</code></td></tr>" for k, v in rows)
        return f"<table><tbody>{body}</tbody></table>"


def _isolated_pip_env(python: Path) -> dict[str, str]:
    # None of the caller's PIP_* settings: the check is about what this one index serves.
    base = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    # the machine's pip.conf may add indexes and find-links
    return processes.child_env({"PIP_CONFIG_FILE": os.devnull}, base=base, venv=python.parent.parent)


def _pick_interpreter(artifacts: Sequence[Any], interpreter: Any | None) -> Any:
    """The interpreter to verify on: the given one, else ours if a wheel fits it, else one a wheel was built for."""
    if interpreter is not None:
        return interpreter
    from releaselib.phases.build import _CurrentPython

    current = _CurrentPython()
    ours = set(sys_tags())
    wheels = [a for a in artifacts if a.kind == "wheel"]
    if not wheels or any(ours & set(a.tags) for a in wheels):
        return current
    from releaselib.infra.interpreters import find_interpreter

    for wheel in wheels:
        tag = wheel.python_tag.split(".")[0]
        if tag.startswith("cp") and tag[2:].isdigit():
            found = find_interpreter(f"{tag[2]}.{tag[3:]}")
            if found is not None:
                return found
    return current


def _tags_of(interpreter: Any) -> set[Any]:
    from releaselib.phases.build import _CurrentPython

    if isinstance(interpreter, _CurrentPython):
        return set(sys_tags())
    version = tuple(int(p) for p in str(interpreter.version).split(".")[:2])
    from packaging.tags import compatible_tags, cpython_tags

    return set(cpython_tags(version)) | set(compatible_tags(version))


def _pip_command(chosen: Any) -> list[str] | None:
    """Our own pip, run on the fresh environment's interpreter (``pip --python``), when it can be.

    Where the release is verified on the interpreter releaselib runs on (the common case: a wheel
    fits it), the pip that installs is the one releaselib runs with, whose bytecode is compiled: a pip seeded
    into the fresh environment would compile its imports anew each time (a second of CPU under
    PYTHONDONTWRITEBYTECODE). None where ours cannot serve (another interpreter, no pip here, or a pip
    older than 22.3, which has no ``--python``): the environment then gets a pip of its own.
    """
    from releaselib.phases.build import _CurrentPython

    if not isinstance(chosen, _CurrentPython):
        return None
    try:
        ours = Version(importlib.metadata.version("pip"))
    except (importlib.metadata.PackageNotFoundError, InvalidVersion):
        return None
    return [sys.executable, "-m", "pip"] if ours >= _PIP_WITH_PYTHON_OPTION else None


def _pip(python: Path, args: Sequence[str], *, env: Mapping[str, str], log: Path | None, timeout: float,
         pip: Sequence[str] | None = None) -> str:
    command = [*pip, "--python", str(python), *args] if pip else [str(python), "-m", "pip", *args]
    try:
        proc = processes.run(command, env=env, timeout=timeout)
    except processes.CommandTimeout as exc:
        raise PublishError(
            f"`pip {args[0]}` from the index did not finish within {timeout:.0f} s.",
            hint="Check that the index answers; re-run the phase.",
        ) from exc
    processes.append_log(log, command, None, proc.stdout, f"exit {proc.returncode} after {proc.duration:.1f} s")
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.strip().splitlines()[-8:])
        raise PublishError(
            f"`pip {args[0]}` of the release from the index failed (exit {proc.returncode}):\n{tail}",
            hint=f"See {log}. If the files were just uploaded, check that index-url serves them, then re-run the "
            "phase.",
        )
    return proc.stdout


def verify_release(release: Release, artifacts: Sequence[Any]) -> VerifyResult | None:
    """:func:`verify_from_index`, except in a dry run, where nothing was uploaded to install."""
    if release.dry_run:
        print("dry run: nothing was uploaded, so nothing is installed from the index")
        return None
    return verify_from_index(release, artifacts)


def verify_from_index(
    release: Release,
    artifacts: Sequence[Any],
    *,
    interpreter: Any | None = None,
    timeout: float = 300.0,
) -> VerifyResult:
    """Install ``<package>==<version>`` from ``config.publish.index_url`` alone and check it is what was built.

    In a fresh virtual environment (pip's configuration, environment
    variables, extra indexes, find-links and cache all off): installs the
    release, imports every top-level name of the installed distribution (from
    the environment, never elsewhere), compares the installed metadata version
    (and ``__version__`` where the package has one) with ``release.version``, compares the
    sha256 of the file pip installed (from pip's report: pip checked the downloaded bytes against
    the index's hash, or hashed them; an older pip's report holds none, and the file is downloaded
    again and hashed here) with the built artifact of that name, and checks that the index lists
    every artifact with its built sha256.
    Returns the :class:`VerifyResult`; raises :class:`PublishError` on any
    mismatch or when the install fails.
    """
    from releaselib.phases.build import create_venv
    from releaselib.phases.installed import installed_distribution, probe_argv, read_probe

    config = release.config
    package, version, index_url = config.package, release.version, config.publish.index_url
    by_name = {a.filename: a for a in artifacts}
    chosen = _pick_interpreter(artifacts, interpreter)
    log = Path(release.record_dir) / "logs" / "verify-from-index.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)
    isolated = ["--isolated", "--no-cache-dir", "--index-url", index_url]
    if any(a.kind == "wheel" and set(a.tags) & _tags_of(chosen) for a in artifacts):
        # A wheel fits this interpreter: insist on it, so the check is about the file users will get.
        isolated += ["--only-binary", ":all:"]
    pip = _pip_command(chosen)
    with tempfile.TemporaryDirectory(prefix="releaselib-verify-") as tmp:
        base = Path(tmp)
        try:
            python = create_venv(chosen, base / "venv", log=log, timeout=timeout, with_pip=pip is None)
        except Exception as exc:
            raise PublishError(
                f"Could not create a virtual environment to verify the release: {exc}",
                hint="Re-run the phase; the upload itself is done.",
            ) from exc
        env = _isolated_pip_env(python)
        report = base / "report.json"
        _pip(python, ["install", *isolated, "--report", str(report), f"{package}=={version}"],
             env=env, log=log, timeout=timeout, pip=pip)  # fmt: skip
        installed_file, digest = _installed_file(report, package)
        if installed_file is None or digest is None:  # an older pip's report: download the file to hash it
            download = base / "download"
            _pip(python, ["download", *isolated, "--no-deps", "--dest", str(download), f"{package}=={version}"],
                 env=env, log=log, timeout=timeout, pip=pip)  # fmt: skip
            downloaded = sorted(download.iterdir())
            if len(downloaded) != 1:
                raise PublishError(
                    f"pip download of {package}=={version} from {strip_userinfo(index_url)} gave {len(downloaded)} "
                    "files.",
                    hint=f"See {log}.",
                )
            if installed_file and downloaded[0].name != installed_file:
                raise PublishError(
                    f"pip installed {installed_file} but downloads {downloaded[0].name}; cannot compare like with like.",
                    hint=f"See {log}.",
                )
            installed_file = downloaded[0].name
            digest = hashlib.sha256(downloaded[0].read_bytes()).hexdigest()
        # Every top-level name the installed distribution holds must import from the environment;
        # the version is the distribution's metadata (importlib.metadata), __version__ only where it exists.
        installed = installed_distribution(base / "venv", package)
        if installed is None:
            raise PublishError(
                f"pip installed {package}=={version} from {strip_userinfo(index_url)}, but no distribution {package!r} is in the "
                f"environment; see {log}.",
                hint="Check [project].name against `package` in [tool.releaselib].",
            )
        argv = probe_argv(python, installed, compiled=False)
        argv.insert(1, "-I")  # neither the working directory nor PYTHON* variables on the path
        try:
            proc = processes.run(argv, cwd=base, env=env, timeout=timeout, merge_stderr=False)
        except processes.CommandTimeout as exc:
            raise PublishError(
                f"The import check of the release did not finish within {timeout:.0f} s.",
                hint="Re-run the phase; the upload itself is done.",
            ) from exc
        processes.append_log(log, f"python -I -c <import check> {' '.join(argv[4:])}", base,
                             proc.stdout + proc.stderr, f"exit {proc.returncode} after {proc.duration:.1f} s")
        proof = read_probe(proc.stdout, base / "venv", installed)
        if proc.returncode != 0 or not proof.ok:
            raise PublishError(
                f"{package} {version} installed from {strip_userinfo(index_url)} but its import check failed: "
                + "; ".join(proof.problems or [proc.stderr.strip()[-500:]]),
                hint="The uploaded files are broken; release a post-release with the fix.",
            )
        seen = {"version": proof.dunder_version, "metadata": proof.version, "python": str(chosen.version)}
    listed = index_files(config.publish.index_url, package)
    result = VerifyResult(
        package=package,
        version=version,
        index_url=strip_userinfo(index_url),
        python=str(seen["python"]),
        installed_version=str(seen["metadata"]),
        imported_version="" if seen["version"] is None else str(seen["version"]),
        file=installed_file,
        sha256=digest,
        expected_sha256=by_name[installed_file].sha256 if installed_file in by_name else "",
        index_hashes_ok={name: listed.get(name) == a.sha256 for name, a in by_name.items()},
        log=log,
    )
    _raise_unless_ok(result)
    return result


def _installed_file(report: Path, package: str) -> tuple[str | None, str | None]:
    """The name and sha256 of the file of ``package`` that pip installed, from its ``--report``.

    pip checks the bytes it downloads against the index's hash and, where the index gives none,
    computes the hash itself (pip 23 and later), so the report's sha256 is that of the installed
    file. Either part is None when the report does not hold it.
    """
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, None
    for item in data.get("install", []):
        if canonicalize_name(item.get("metadata", {}).get("name", "")) == canonicalize_name(package):
            info = item.get("download_info", {})
            url = info.get("url", "")
            name = urllib.parse.unquote(url.rsplit("/", 1)[-1].split("#")[0]) or None
            archive = info.get("archive_info", {})
            digest = (archive.get("hashes") or {}).get("sha256")
            if not digest and str(archive.get("hash", "")).startswith("sha256="):
                digest = str(archive["hash"]).partition("=")[2]
            return name, (str(digest).lower() if digest else None)
    return None, None


def _raise_unless_ok(result: VerifyResult) -> None:
    if not result.expected_sha256:
        raise PublishError(
            f"pip installed {result.file} from {result.index_url}, a file this release did not build.",
            hint="Something else uploaded a file for this version; inspect the index before going on.",
        )
    if result.sha256 != result.expected_sha256:
        raise PublishError(
            f"{result.file} on {result.index_url} is not the file that was built: sha256 {result.sha256[:16]}… "
            f"on the index, {result.expected_sha256[:16]}… built.",
            hint="Someone replaced the file on the index, or the build was re-run after the upload. Do not "
            "announce; release a post-release built from the tag.",
        )
    wrong = [name for name, ok in result.index_hashes_ok.items() if not ok]
    if wrong:
        raise PublishError(
            f"The index does not list {', '.join(wrong)} with the built sha256.",
            hint=f"Re-run the publish phase to upload what is missing, {RESUME}.",
        )
    # importlib.metadata is the version users get; __version__ is an extra check where the package has one.
    checks = [("installed metadata", result.installed_version)]
    if result.imported_version:
        checks.append(("__version__", result.imported_version))
    for label, seen in checks:
        if seen != result.version:
            raise PublishError(
                f"{result.package} installed from {result.index_url} reports {label} {seen!r}, not {result.version!r}.",
                hint="The version files at the tag were not bumped to the release version; the files on the index "
                "are wrong: fix the version files and release a post-release.",
            )
