"""pypiserver on 127.0.0.1 with a password file, fallback to PyPI off (measured behaviour: the package docstring)."""

from __future__ import annotations

import os
import secrets
import sys
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

from releaselib.infra import processes
from releaselib.local.servers.base import LOCALHOST, ServerError, _Server, free_port
from releaselib.record.store import sha256_file


def _htpasswd_line(username: str, password: str) -> bytes:
    """One htpasswd line for ``username``, hashed with sha256-crypt at the standard's 5,000 rounds.

    sha256-crypt needs no extra dependency (bcrypt is not installed) and is
    not the weak apr-md5; pypiserver checks it through the same passlib.
    passlib's own default of 535,000 rounds costs 0.4 s of pure Python here
    and again in pypiserver on every upload; the password is a random token
    made for this run, which no number of rounds makes stronger.
    """
    with warnings.catch_warnings():
        # passlib imports the stdlib ``crypt`` module, deprecated since 3.11.
        warnings.simplefilter("ignore", DeprecationWarning)
        from passlib.hash import sha256_crypt  # type: ignore[import-untyped]

    hashed: str = sha256_crypt.using(rounds=5000).hash(password)
    return f"{username}:{hashed}\n".encode()


def _tail(path: Path, limit: int = 4000, *, since: int = 0) -> str:
    """The last ``limit`` characters of a log file, from byte offset ``since`` on."""
    try:
        with open(path, "rb") as handle:
            handle.seek(since)
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return text[-limit:]


class PackageIndex(_Server):
    """pypiserver on 127.0.0.1 serving ``root / "packages"``.

    Uploads need ``username``/``password`` (checked against ``root /
    "htpasswd"``); listing and downloads are open. The server's output goes
    to ``root / "pypiserver.log"``.
    """

    def __init__(
        self,
        root: Path,
        *,
        username: str = "releaser",
        password: str,
        port: int | None = None,
        ready_timeout: float = 30.0,
    ) -> None:
        if not password:
            raise ServerError(
                "The package index needs a non-empty upload password.",
                hint="Pass password=... (the demo generates one).",
            )
        self.root = Path(root)
        self.username = username
        self.password = password
        self._port_chosen_here = port is None
        self.port = port if port is not None else free_port()
        self.ready_timeout = ready_timeout
        # A path only this process answers: readiness must not be fooled by
        # another server that already holds the port.
        self._health_path = f"/ready-{secrets.token_hex(8)}"
        self.packages_dir = self.root / "packages"
        self.htpasswd_path = self.root / "htpasswd"
        self.log_path = self.root / "pypiserver.log"
        self._process: processes.Started | None = None

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}/"

    @property
    def upload_url(self) -> str:
        """What ``twine upload --repository-url`` takes: pypiserver accepts uploads at its root."""
        return self.url

    @property
    def simple_url(self) -> str:
        return f"{self.url}simple/"

    @property
    def pid(self) -> int | None:
        """The pypiserver process id while it runs, else None."""
        return self._process.pid if self._process is not None else None

    def start(self) -> PackageIndex:
        """Start pypiserver and return once its simple index answers 200.

        Raises :class:`ServerError` if the process exits early (its log tail
        is in the message) or is not ready within ``ready_timeout`` seconds;
        in both cases the process is stopped first.
        """
        if self._process is not None:
            return self
        self.packages_dir.mkdir(parents=True, exist_ok=True)
        self._write_htpasswd(self.password)
        # free_port() releases the port before pypiserver binds it; when we chose
        # the port and someone took it in between, choose another and retry.
        attempts = 3 if self._port_chosen_here else 1
        for attempt in range(1, attempts + 1):
            log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
            self._spawn()
            try:
                self._wait_ready()
                return self
            except ServerError:
                self.stop()
                port_taken = "Address already in use" in _tail(
                    self.log_path, since=log_start
                )
                if attempt == attempts or not port_taken:
                    raise
                self.port = free_port()
            except BaseException:
                self.stop()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _spawn(self) -> None:
        command = [
            sys.executable, "-m", "pypiserver", "run",
            "-i", LOCALHOST,
            "-p", str(self.port),
            "-a", "update",
            "-P", str(self.htpasswd_path),
            "--disable-fallback",
            "--hash-algo", "sha256",
            "--health-endpoint", self._health_path,
            "--server", "wsgiref",
            str(self.packages_dir),
        ]  # fmt: skip
        # Its log is a file, not a pipe (processes.start): nobody reads a pipe while
        # the server runs, and a full pipe would block pypiserver mid-request.
        try:
            self._process = processes.start(command, log=self.log_path, cwd=self.root)
        except OSError as exc:
            raise ServerError(
                f"Could not start pypiserver: {exc}",
                hint="Check that pypiserver is installed in this environment "
                f"({sys.executable} -m pypiserver --version).",
            ) from exc

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.ready_timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                raise ServerError(
                    f"pypiserver exited with code {code} before it was ready on port "
                    f"{self.port}. Its log ({self.log_path}) ends with:\n"
                    f"{_tail(self.log_path, 2000)}",
                    hint="If the port was taken, start again (a new free port is "
                    "chosen when none is given).",
                )
            try:
                with urllib.request.urlopen(
                    self.url.rstrip("/") + self._health_path, timeout=1
                ):
                    pass
                with urllib.request.urlopen(self.simple_url, timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError) as exc:
                last_error = exc
            time.sleep(0.05)
        raise ServerError(
            f"pypiserver did not answer {self.simple_url} within {self.ready_timeout:.0f} s "
            f"(last error: {last_error}). Its log ends with:\n{_tail(self.log_path)}",
            hint="Look at the log above; raise ready_timeout on a slow machine.",
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the pypiserver process this object started, killing it after ``timeout``.

        Does nothing when not started; safe to call twice.
        """
        process, self._process = self._process, None
        if process is None:
            return
        process.stop(timeout=timeout)

    def files(self) -> dict[str, str]:
        """Every file the index holds: filename -> sha256 hex of its bytes on disk."""
        result: dict[str, str] = {}
        if not self.packages_dir.is_dir():
            return result
        for path in sorted(self.packages_dir.iterdir()):
            if path.is_file():
                result[path.name] = sha256_file(path)
        return result

    def set_password(self, password: str) -> None:
        """Change the upload password; takes effect on the next upload, no restart.

        pypiserver re-reads the htpasswd file when its mtime changes
        (passlib's ``load_if_changed``); the mtime is moved forward if the
        rewrite landed in the same timestamp tick.
        """
        if not password:
            raise ServerError(
                "The package index needs a non-empty upload password.",
                hint="Pass a non-empty password.",
            )
        self.password = password
        self._write_htpasswd(password)

    def _write_htpasswd(self, password: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        before = (
            self.htpasswd_path.stat().st_mtime_ns
            if self.htpasswd_path.exists()
            else None
        )
        # Write beside, then rename: pypiserver may read the file at any moment
        # and must never see it half-written.
        partial = self.htpasswd_path.with_name(self.htpasswd_path.name + ".new")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(_htpasswd_line(self.username, password))
        os.replace(partial, self.htpasswd_path)
        if before is not None and self.htpasswd_path.stat().st_mtime_ns <= before:
            bumped = before + 1_000_000_000
            os.utime(self.htpasswd_path, ns=(bumped, bumped))

    def __repr__(self) -> str:
        return f"PackageIndex({self.url!r}, packages_dir={str(self.packages_dir)!r})"


