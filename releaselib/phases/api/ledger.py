"""The deprecation ledger: for every release tag, which public names were deprecated.

Each tag's entry is computed once (griffe loads the tag's source, and
:mod:`releaselib.phases.api.deprecations` finds the warnings) and cached as
``<outputs>/<package>/api-ledger/<tag>.json``, beside the release records:
the next release reuses every entry and adds its own last tag. An entry is
recomputed when the tag moved (a different commit) or the settings that
decide what counts (package, source folder, exclusions, helpers) changed.

Only final releases count (2.2, 2.2.1; not 2.2rc1): "deprecated for four
releases" means four releases a user could have installed without opting in.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from releaselib.phases.api.surface import Surface, load_surface

__all__ = ["Ledger", "LedgerEntry", "build_ledger", "release_tags", "tag_version"]

#: Bump when the entry's shape or the detection changes, so old caches are recomputed.
LEDGER_FORMAT = 5


@dataclass(frozen=True)
class LedgerEntry:
    """One release tag: its commit and the public names deprecated in it."""

    tag: str
    version: str
    commit: str
    deprecated: dict[str, dict[str, Any]]  # path -> {"how", "file", "line"}
    public: int  # how many public names the tag had
    unreadable: str | None = None  # why the tag's source could not be read (then nothing is known)

    def as_json(self) -> dict[str, Any]:
        return {"tag": self.tag, "version": self.version, "commit": self.commit, "public": self.public,
                "deprecated": self.deprecated, "unreadable": self.unreadable}


@dataclass
class Ledger:
    """Every release tag below the version being released, oldest first."""

    entries: list[LedgerEntry] = field(default_factory=list)
    computed: list[str] = field(default_factory=list)  # tags computed now (not from the cache)

    def releases_deprecated(self, path: str, members: tuple[str, ...] = ()) -> list[str]:
        """The tags in which ``path`` (or a module or class holding it) was deprecated; for a
        module or class that was not, the tags in which every one of its ``members`` was."""
        parents = _ancestors(path)
        tags = [e.tag for e in self.entries if any(p in e.deprecated for p in parents)]
        if tags or not members:
            return tags
        each = [set(self.releases_deprecated(member)) for member in members]
        return [e.tag for e in self.entries if all(e.tag in found for found in each)]

    def since(self, path: str) -> str | None:
        tags = self.releases_deprecated(path)
        return tags[0] if tags else None

    def as_record(self) -> list[dict[str, Any]]:
        return [{"tag": e.tag, "commit": e.commit, "deprecated": sorted(e.deprecated),
                 **({"unreadable": e.unreadable} if e.unreadable else {})} for e in self.entries]


def _ancestors(path: str) -> list[str]:
    parts = path.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 1, -1)]


def _tag_regex(template: str) -> re.Pattern[str]:
    before, _, after = template.partition("{version}")
    return re.compile(re.escape(before) + r"(?P<version>\d[\w.+!-]*)" + re.escape(after) + r"\Z")


def tag_version(tag: str, template: str) -> str | None:
    """The version a tag names under ``template`` (``v2.2`` -> ``2.2`` for ``v{version}``), or None."""
    match = _tag_regex(template).match(tag)
    return match.group("version") if match else None


def release_tags(repo: Path, template: str, *, below: str | None = None, finals_only: bool = True) -> list[tuple[Version, str]]:
    """Release tags (``template`` with a PEP 440 version) below ``below``, oldest first."""
    from releaselib.phases.api.surface import git_bytes

    pattern = _tag_regex(template)
    limit = Version(below) if below else None
    found = []
    for tag in git_bytes(Path(repo), "tag", "--list").decode().split():
        match = pattern.match(tag)
        if not match:
            continue
        try:
            version = Version(match.group("version"))
        except InvalidVersion:
            continue
        if (limit is not None and version >= limit) or (finals_only and (version.is_prerelease or version.local)):
            continue
        found.append((version, tag))
    return sorted(found)


def _settings_key(settings: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def _cache_file(cache_dir: Path, tag: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._+-]", "_", tag)
    return cache_dir / f"{safe}.json"


def _entry_from(surface: Surface, tag: str, version: str, commit: str) -> LedgerEntry:
    deprecated = {
        path: {"how": obj.deprecated.how, "file": obj.file, "line": obj.deprecated.line}
        for path, obj in sorted(surface.deprecated().items())
        if obj.deprecated is not None
    }
    return LedgerEntry(tag, version, commit, deprecated, len(surface.objects))


def build_ledger(
    repo: Path,
    *,
    import_name: str,
    tag_template: str,
    below: str,
    cache_dir: Path | None,
    source: str | None = None,
    exclude: tuple[str, ...] = (),
    helpers: tuple[str, ...] = (),
    loaded: Mapping[str, Surface] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Ledger:
    """The ledger of every final release tag below ``below``.

    Entries come from ``cache_dir`` when they match the tag's commit and the
    settings; else from ``loaded`` (surfaces already loaded for a tag), else
    griffe loads the tag. New entries are written back to ``cache_dir``.
    A tag whose package cannot be found (before the project had it) gets an
    empty entry. Raises :class:`GitError` when git fails.
    """
    from releaselib.core.errors import ConfigError
    from releaselib.infra.git import commit_of

    settings = {"format": LEDGER_FORMAT, "import_name": import_name, "source": source,
                "exclude": list(exclude), "helpers": list(helpers)}
    key = _settings_key(settings)
    ledger = Ledger()
    for version, tag in release_tags(repo, tag_template, below=below):
        commit = commit_of(repo, tag)
        cached = _read_cache(cache_dir, tag, commit, key) if cache_dir else None
        if cached is None:
            surface = (loaded or {}).get(tag)
            unreadable = None
            if surface is None:
                if progress:
                    progress(tag)
                try:
                    surface = load_surface(repo, import_name, tag, source=source, exclude=exclude, helpers=helpers)
                except ConfigError as exc:  # no package yet at that tag, or source this Python cannot parse
                    unreadable = exc.message
            cached = (_entry_from(surface, tag, str(version), commit) if surface is not None
                      else LedgerEntry(tag, str(version), commit, {}, 0, unreadable))
            ledger.computed.append(tag)
            if cache_dir:
                _write_cache(cache_dir, cached, key)
        ledger.entries.append(cached)
    return ledger


def _read_cache(cache_dir: Path, tag: str, commit: str, key: str) -> LedgerEntry | None:
    try:
        data = json.loads(_cache_file(cache_dir, tag).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("settings") != key or data.get("commit") != commit or data.get("tag") != tag:
        return None
    return LedgerEntry(tag, str(data["version"]), commit, dict(data["deprecated"]), int(data.get("public", 0)),
                       data.get("unreadable"))


def _write_cache(cache_dir: Path, entry: LedgerEntry, key: str) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = _cache_file(cache_dir, entry.tag)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({**entry.as_json(), "settings": key}, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    temporary.replace(path)
