"""The files a release ships: :class:`Artifact`, and what the build needs of an interpreter."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from packaging.tags import Tag
from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename

from releaselib.core.errors import BuildError
from releaselib.record.store import sha256_file

RESUME_HINT = "nothing has left the machine"


class InterpreterLike(Protocol):
    """What the build needs of an interpreter (:class:`releaselib.infra.interpreters.Interpreter`)."""

    @property
    def executable(self) -> Path: ...

    @property
    def version(self) -> str: ...

    @property
    def requested(self) -> str: ...


@dataclass(frozen=True)
class _CurrentPython:
    """The interpreter running releaselib, when no configured one is at hand."""

    executable: Path = Path(sys.executable)
    version: str = ".".join(str(p) for p in sys.version_info[:3])
    requested: str = f"{sys.version_info[0]}.{sys.version_info[1]}"


# --------------------------------------------------------------------------- artifacts


def sha256_of(path: Path) -> str:
    """The sha256 hex digest of the file's bytes."""
    return sha256_file(path)


@dataclass(frozen=True)
class Artifact:
    """One distribution file, as built and as it will be uploaded.

    ``python_tag`` and ``platform_tag`` come from the file name (``cp311`` and
    ``manylinux_2_17_x86_64`` for a wheel; ``source`` and ``any`` for an sdist);
    several tags are joined with dots, as in the file name.
    """

    filename: str
    path: Path
    size: int
    sha256: str
    kind: str  # "sdist" | "wheel"
    python_tag: str
    platform_tag: str
    name: str = ""
    version: str = ""
    abi_tag: str = "none"
    origin: str = "built"  # "built" here, or "wheelhouse" (built elsewhere, e.g. CI)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], *, origin: str = "built") -> Artifact:
        """Describe the file at ``path``; raises :class:`BuildError` when its name is not a valid sdist or wheel name."""
        path = Path(path)
        filename = path.name
        try:
            if filename.endswith(".whl"):
                name, version, _build, tags = parse_wheel_filename(filename)
                kind = "wheel"
                python_tag = ".".join(sorted({t.interpreter for t in tags}))
                abi_tag = ".".join(sorted({t.abi for t in tags}))
                platform_tag = ".".join(sorted({t.platform for t in tags}))
            elif filename.endswith((".tar.gz", ".zip")):
                name, version = parse_sdist_filename(filename)
                kind, python_tag, abi_tag, platform_tag = "sdist", "source", "none", "any"
            else:
                raise BuildError(
                    f"{filename} is neither a wheel nor an sdist.",
                    hint="Only .whl and .tar.gz files can be released; remove the file from the folder.",
                )
        except (InvalidWheelFilename, InvalidSdistFilename) as exc:
            raise BuildError(
                f"{filename} is not a valid distribution file name: {exc}",
                hint="Rebuild it with a standard build tool (pypa/build, cibuildwheel); names must follow the "
                "binary distribution format.",
            ) from exc
        return cls(
            filename=filename,
            path=path,
            size=path.stat().st_size,
            sha256=sha256_of(path),
            kind=kind,
            python_tag=python_tag,
            platform_tag=platform_tag,
            name=str(name),
            version=str(version),
            abi_tag=abi_tag,
            origin=origin,
        )

    @property
    def tags(self) -> frozenset[Tag]:
        """The wheel's compatibility tags (empty for an sdist)."""
        if self.kind != "wheel":
            return frozenset()
        return parse_wheel_filename(self.filename)[3]

    @property
    def is_pure(self) -> bool:
        """True for a wheel every platform can install (``py3-none-any``)."""
        return self.kind == "wheel" and all(t.abi == "none" and t.platform == "any" for t in self.tags)

    def moved_to(self, path: Path) -> Artifact:
        """The same artifact at another path (after a copy)."""
        return Artifact(**{**self.__dict__, "path": path})

    def as_record(self) -> dict[str, Any]:
        """A JSON-ready description, as kept in the release record."""
        return {
            "filename": self.filename,
            "kind": self.kind,
            "size": self.size,
            "sha256": self.sha256,
            "python_tag": self.python_tag,
            "abi_tag": self.abi_tag,
            "platform_tag": self.platform_tag,
            "origin": self.origin,
        }


