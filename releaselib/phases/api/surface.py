"""A package's public API at one git reference, loaded statically with griffe.

Nothing is imported or executed: griffe reads the source. A tag's source is
exported with ``git archive`` into a temporary folder (the repository itself
is never touched: no worktree, no branch); the release commit is read from
the working tree, which preflight has proved clean.

Public means what the project exports: ``__all__`` where a module has one,
else names without a leading underscore, in modules whose own name has no
leading underscore (griffe's rule). Class members count too, except dunder
methods other than ``__init__``, ``__new__`` and ``__call__``.
"""

from __future__ import annotations

import contextlib
import fnmatch
import logging
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from releaselib.core.errors import ConfigError, GitError
from releaselib.phases.api.deprecations import Deprecation, module_deprecations

if TYPE_CHECKING:
    import griffe

__all__ = ["ApiObject", "Surface", "git_bytes", "load_surface", "package_folder"]

_KEPT_DUNDERS = {"__init__", "__new__", "__call__"}


@dataclass(frozen=True)
class ApiObject:
    """One public name: its public path, kind, where it is defined, and its deprecation if any."""

    path: str
    kind: str
    file: str
    line: int | None
    canonical: str  # where it is defined (the target of a re-export)
    deprecated: Deprecation | None = None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class Surface:
    """The public API of the package at ``ref`` (None: the working tree)."""

    ref: str | None
    root: griffe.Object | griffe.Alias
    objects: dict[str, ApiObject] = field(default_factory=dict)
    _by_canonical: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def deprecated(self) -> dict[str, ApiObject]:
        return {path: obj for path, obj in self.objects.items() if obj.deprecated is not None}

    def public_paths(self, canonical: str) -> list[str]:
        """Public paths of the object defined at ``canonical`` (itself, or its re-exports)."""
        if not self._by_canonical:
            for path, obj in self.objects.items():
                self._by_canonical.setdefault(obj.canonical, []).append(path)
        return self._by_canonical.get(canonical, [])


def git_bytes(repo: Path, *args: str) -> bytes:
    from git.exc import GitCommandError

    from releaselib.infra.git import open_repo

    handle = open_repo(repo)
    try:
        return bytes(handle.git.execute(["git", *args], stdout_as_string=False))
    except GitCommandError as exc:
        raise GitError(
            f"`git {' '.join(args)}` failed in {repo}: {exc.stderr!s}".strip(),
            hint="Check that the tag exists (`git tag --list`) and the repository is intact (`git fsck`).",
        ) from exc
    finally:
        handle.close()


def _exists_at(repo: Path, ref: str | None, relative: str) -> bool:
    if ref is None:
        return (repo / relative).exists()
    listed = git_bytes(repo, "ls-tree", "--name-only", ref, "--", relative)
    return bool(listed.strip())


def package_folder(repo: Path, import_name: str, ref: str | None, source: str | None = None) -> tuple[str, str]:
    """``(folder, entry)``: the repository folder holding the package at ``ref`` and the
    package's own path in it (``("src", "src/pkg")``, ``("", "pkg.py")``).

    ``source`` (``[tool.releaselib.api] source``) names the folder; else ``src/``
    and the root are tried. Raises :class:`ConfigError` when the package is in neither.
    """
    folders = [source.strip("/")] if source is not None else ["src", ""]
    for folder in folders:
        for entry in (import_name, f"{import_name}.py"):
            relative = f"{folder}/{entry}" if folder else entry
            if _exists_at(repo, ref, relative):
                return folder, relative
    where = ref or "the working tree"
    raise ConfigError(
        f"The package {import_name} is not in {', '.join(repr(f or '.') for f in folders)} at {where}.",
        hint='Set source = "<folder holding the package>" in [tool.releaselib.api], or import-name in [tool.releaselib].',
    )


@contextlib.contextmanager
def _exported(repo: Path, ref: str, entry: str) -> Iterator[Path]:
    """The tree of ``ref``, exported into a temporary folder (removed afterwards)."""
    from releaselib.infra import export

    with tempfile.TemporaryDirectory(prefix="releaselib-api-") as tmp:
        yield export.extract(export.archive_of(repo, ref), tmp)


def load_surface(
    repo: Path,
    import_name: str,
    ref: str | None = None,
    *,
    source: str | None = None,
    exclude: Iterable[str] = (),
    helpers: Iterable[str] = (),
) -> Surface:
    """The public API of ``import_name`` at ``ref`` (a tag or commit), or in the working tree.

    ``exclude`` holds module globs (``pkg.testing``, ``pkg.vendor.*``) left
    out with everything below them; ``helpers`` are the project's own
    deprecation helpers. Raises :class:`ConfigError` when the package is not
    found and :class:`GitError` when ``ref`` cannot be exported.
    """
    import griffe

    repo = Path(repo)
    folder, entry = package_folder(repo, import_name, ref, source)
    with contextlib.ExitStack() as stack:
        base = repo if ref is None else stack.enter_context(_exported(repo, ref, entry))
        search = base / folder if folder else base
        logger = logging.getLogger("griffe")
        level = logger.level
        # Unresolvable imports are the norm in a static load; a failure is raised below, not logged.
        logger.setLevel(logging.CRITICAL)
        try:
            root = griffe.load(import_name, search_paths=[search], allow_inspection=False, resolve_aliases=False)
        except griffe.LoadingError as exc:
            raise ConfigError(
                f"The source of {import_name} at {ref or 'the working tree'} cannot be read: {exc}",
                hint="A syntax this Python cannot parse (Python 2 code in an old tag?). Compare with a later "
                "tag: releaselib api VERSION --against TAG.",
            ) from exc
        except (ImportError, OSError) as exc:
            raise ConfigError(
                f"griffe could not load {import_name} from {search} ({ref or 'working tree'}): {exc}",
                hint='Check import-name in [tool.releaselib] and source in [tool.releaselib.api].',
            ) from exc
        finally:
            logger.setLevel(level)
        deprecations = _scan_deprecations(root, list(helpers))
        walker = _Walker(folder, tuple(exclude), deprecations)
        walker.walk(root, root.path)
        walker.add_virtual(root)
    return Surface(ref=ref, root=root, objects=walker.objects)


def _all_modules(module: griffe.Object) -> Iterator[griffe.Object]:
    yield module
    for sub in module.modules.values():
        if not sub.is_alias:
            yield from _all_modules(sub)


def _scan_deprecations(root: griffe.Object | griffe.Alias, helpers: list[str]) -> dict[str, Deprecation]:
    found: dict[str, Deprecation] = {}
    needles = ("warn", "deprecat", *(h.rsplit(".", 1)[-1] for h in helpers))
    for module in _all_modules(root):  # type: ignore[arg-type]
        path = module.filepath
        if not isinstance(path, Path) or path.suffix != ".py":
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        # Parsing is the cost; a module that never says warn, deprecate or a helper's name has nothing to find.
        if any(word in text for word in needles):
            found.update(module_deprecations(text, module.path, helpers))
    return found


def _excluded(path: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(path, p) or path.startswith(p + ".") for p in patterns)


def _is_public(member: griffe.Object | griffe.Alias, owner: griffe.Object | griffe.Alias) -> bool:
    """griffe's rule, plus: in a module without ``__all__``, a name without a leading
    underscore imported from the package itself is public (``from ._native import escape``)."""
    import griffe

    try:
        if member.is_public:
            return True
    except griffe.AliasResolutionError:
        return False
    if not isinstance(member, griffe.Alias) or member.name.startswith("_") or not owner.is_module or owner.exports:
        return False
    if member.target_path.split(".")[0] != owner.path.split(".")[0]:
        return False
    member.public = True  # so griffe's own comparison (find_breaking_changes) looks at it too
    return True


class _Walker:
    """Collects the public names below a module, under their public paths."""

    def __init__(self, folder: str, exclude: tuple[str, ...], deprecations: dict[str, Deprecation]) -> None:
        self.folder = folder
        self.exclude = exclude
        self.deprecations = deprecations
        self.objects: dict[str, ApiObject] = {}
        self.walked: set[str] = set()  # definitions already walked, so a cycle of re-exports ends
        self.files: dict[str, str] = {}

    def location(self, obj: griffe.Object | griffe.Alias) -> tuple[str, int | None]:
        """``(repository-relative file, line)`` of ``obj``."""
        key = str(obj.filepath)
        if key not in self.files:
            try:
                relative = str(obj.relative_package_filepath)
            except (ValueError, AttributeError):
                relative = key
            self.files[key] = f"{self.folder}/{relative}" if self.folder else relative
        return self.files[key], obj.lineno

    def walk(self, obj: griffe.Object | griffe.Alias, prefix: str) -> None:
        import griffe

        for name, member in list(obj.members.items()):
            path = f"{prefix}.{name}"
            if _excluded(path, self.exclude):
                if not member.inherited:
                    member.public = False  # griffe's comparison skips it too
                continue
            if not _is_public(member, obj) or path in self.objects:
                continue
            if obj.is_class and name.startswith("__") and name.endswith("__") and name not in _KEPT_DUNDERS:
                continue
            target: griffe.Object | griffe.Alias = member
            if isinstance(member, griffe.Alias):
                try:
                    target = member.final_target
                except (griffe.AliasResolutionError, griffe.CyclicAliasError):
                    # A re-export of another distribution's name: public here, defined elsewhere.
                    file, _ = self.location(obj)
                    self.objects[path] = ApiObject(path, "alias", file, member.alias_lineno, member.target_path)
                    continue
            canonical = target.path
            file, line = self.location(target)
            kind = target.kind.value
            self.objects[path] = ApiObject(path, kind, file, line, canonical, self.deprecations.get(canonical))
            if kind in ("module", "class") and not (member.is_alias and kind == "module") and canonical not in self.walked:
                self.walked.add(canonical)
                self.walk(target, path)

    def add_virtual(self, root: griffe.Object | griffe.Alias) -> None:
        """Names only a module ``__getattr__`` serves (with a deprecation warning) are public too."""
        modules = {root.path: root}
        for path, obj in self.objects.items():
            if obj.kind == "module" and obj.canonical == path:
                modules[path] = root.modules_collection.get_member(path)
        for canonical, deprecation in self.deprecations.items():
            module, _, name = canonical.rpartition(".")
            if module not in modules or canonical in self.objects or _excluded(canonical, self.exclude):
                continue
            if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
                continue
            owner = modules[module]
            if name in owner.members:
                continue  # a real member, private by __all__: not served by __getattr__
            file, _ = self.location(owner)
            self.objects[canonical] = ApiObject(canonical, "attribute", file, deprecation.line, canonical, deprecation)
