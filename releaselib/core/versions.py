"""Version strings: what a release may be called, and what comes after it.

Two development schemes are supported:

``plus``
    The seed checklist's: after releasing 2.1 the version under development
    is ``2.1+``. Modern builds reject ``2.1+`` (not PEP 440), so by default the
    plus scheme writes the buildable form ``2.1+dev`` (a PEP 440 local label,
    ``Config.plus_label``). ``plus_label = ""`` writes the literal ``2.1+``,
    which only a legacy ``setup.py`` build accepts (``allow_non_pep440``).
``dev``
    ``2.2.dev0`` while 2.2 is under development.

Everything here works on strings and never on floats: ``1.10`` stays
``"1.10"`` (papermill would turn it into ``1.1``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.version import InvalidVersion, Version

from releaselib.core.errors import ConfigError, VersionError

if TYPE_CHECKING:
    from releaselib.core.config_types import Config

SCHEMES = ("plus", "dev", "none")
POLICIES = ("", "patch", "minor", "major")

# A trailing ".devN" (or "devN") on a dev-scheme version, e.g. 2.2.dev0 or 2.2rc2.dev0.
_DEV_SUFFIX = re.compile(r"\.?dev\d*$")


def _check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise ConfigError(
            f"Unknown development scheme {scheme!r}.",
            hint='Set dev-scheme = "plus" (2.1 -> 2.1+dev), "dev" (2.2.dev0) or "none" in [tool.releaselib].',
        )


#: Longer version strings are refused before parsing (Python refuses int() of over 4300 digits).
MAX_VERSION_LENGTH = 100


def parse_release(text: str) -> Version:
    """Parse the version a user asked to release.

    Returns the parsed :class:`~packaging.version.Version`. The text must be a
    canonical PEP 440 public version without a dev part, exactly as it will
    appear in the tag and on the index. Raises :class:`VersionError` (with a
    hint naming the form to use) when it is empty, not PEP 440, starts with
    ``v``, has a local label, is a dev release, or is a non-canonical spelling
    that would be rewritten (``1.2-rc1``, ``01.2``).
    """
    if not isinstance(text, str):
        raise VersionError(
            f"The release version must be a string, got {type(text).__name__} {text!r}.",
            hint='Quote it: "1.10" (a float 1.10 is 1.1).',
        )
    if not text.strip():
        raise VersionError("The release version is empty.", hint='Give the version to release, e.g. "2.2".')
    if len(text) > MAX_VERSION_LENGTH:
        raise VersionError(
            f"The release version is {len(text)} characters long ({text[:20]}…); no index or tool takes one "
            f"over {MAX_VERSION_LENGTH}.",
            hint='Give the version to release, e.g. "2.2".',
        )
    if text != text.strip():
        raise VersionError(
            f"The release version {text!r} has surrounding whitespace.",
            hint=f"Pass {text.strip()!r}.",
        )
    if text[0] in "vV" and len(text) > 1 and text[1].isdigit():
        raise VersionError(
            f"The release version {text!r} starts with {text[0]!r}.",
            hint=(
                f"Pass the bare version {text[1:]!r}; the tag name comes from the `tag` template "
                "in [tool.releaselib] (e.g. tag = \"v{version}\")."
            ),
        )
    try:
        version = Version(text)
    except InvalidVersion as exc:
        raise VersionError(
            f"{text!r} is not a valid PEP 440 version.",
            hint='Use a form such as "2.2", "2.2.1", "2.2rc1" or "2.2.post1".',
        ) from exc
    if version.local is not None:
        raise VersionError(
            f"The release version {text!r} has a local label (+{version.local}); the index refuses those.",
            hint=f"Release {version.public!r}; local labels only mark development versions.",
        )
    if version.dev is not None:
        raise VersionError(
            f"{text!r} is a development release; releaselib releases final, pre- and post-releases.",
            hint=f"Release {Version(version.public).base_version!r} or a pre-release such as "
            f"{Version(version.public).base_version + 'rc1'!r}.",
        )
    canonical = str(version)
    if canonical != text:
        raise VersionError(
            f"{text!r} is not in canonical form; the build would rename it {canonical!r}.",
            hint=f"Pass {canonical!r}, so the tag, the files and the index all agree.",
        )
    return version


def _next_candidates(last: Version) -> list[str]:
    """Likely next releases after ``last``: the next patch and the next minor."""
    release = list(last.release)
    release += [0] * (2 - len(release))  # "2" -> 2.0, so there is a minor to bump
    epoch = f"{last.epoch}!" if last.epoch else ""
    candidates: list[str] = []
    if last.pre is not None:
        kind, number = last.pre
        candidates.append(f"{last.base_version}{kind}{number + 1}")
        candidates.append(last.base_version)
        return candidates
    if len(release) >= 3:
        patch = release[:-1] + [release[-1] + 1]
    else:
        patch = release + [1]
    minor = [release[0], release[1] + 1]
    candidates.append(epoch + ".".join(map(str, patch)))
    candidates.append(epoch + ".".join(map(str, minor)))
    return candidates


def check_newer(version: str, last: str | None) -> None:
    """Check that ``version`` sorts after the last release ``last``.

    ``last`` is ``None`` when the project has never been released; then any
    version passes. Raises :class:`VersionError` naming the last release and
    suggesting the next candidates when ``version <= last`` (a pre-release
    after its final, 2.2rc1 after 2.2, fails by ordering), or when either
    string is not a PEP 440 version.
    """
    if last is None:
        return
    try:
        new_v = Version(version)
    except InvalidVersion as exc:
        raise VersionError(f"{version!r} is not a valid PEP 440 version.") from exc
    try:
        last_v = Version(last)
    except InvalidVersion as exc:
        raise VersionError(
            f"The last release {last!r} is not a PEP 440 version, so {version!r} cannot be compared with it.",
            hint="Check the tag template in [tool.releaselib]; it decides which tags count as releases.",
        ) from exc
    if new_v <= last_v:
        relation = "the same as" if new_v == last_v else "older than"
        candidates = " or ".join(repr(c) for c in _next_candidates(last_v))
        raise VersionError(
            f"{version!r} is {relation} the last release {last!r}.",
            hint=f"Release a newer version, such as {candidates}.",
        )


def next_dev_version(release: str, scheme: str, plus_label: str, policy: str = "", dev_suffix: str = ".dev0") -> str:
    """The development version that follows ``release``.

    ``plus``: ``2.2`` -> ``2.2+dev`` (``2.2+`` when ``plus_label`` is empty).
    ``dev``: the last release component goes up: ``2.2`` -> ``2.3.dev0``,
    ``2.2.1`` -> ``2.2.2.dev0``; a pre-release's number goes up instead:
    ``2.2rc1`` -> ``2.2rc2.dev0``; a post-release continues from its base:
    ``2.2.post1`` -> ``2.3.dev0``. ``policy`` (``next-version``) chooses the
    component instead: ``"patch"`` ``2.2`` -> ``2.2.1.dev0``, ``"minor"``
    ``2.2.1`` -> ``2.3.dev0``, ``"major"`` -> ``3.0.dev0``. ``dev_suffix``
    (``dev-suffix``) is the project's own spelling of the marker, kept as
    written: ``".dev"`` gives ``2.3.dev``. ``none``: the
    release itself (the files keep holding it). Raises :class:`VersionError`
    for a version that is not PEP 440 and :class:`ConfigError` for an
    unknown scheme or policy.
    """
    _check_scheme(scheme)
    if policy not in POLICIES:
        raise ConfigError(
            f"Unknown next-version policy {policy!r}.",
            hint='Set next-version = "patch", "minor" or "major" in [tool.releaselib], or remove it.',
        )
    try:
        version = Version(release)
    except InvalidVersion as exc:
        raise VersionError(f"{release!r} is not a valid PEP 440 version.") from exc
    if scheme == "none":
        return release
    if scheme == "plus":
        return f"{release}+{plus_label}"
    epoch = f"{version.epoch}!" if version.epoch else ""
    if policy:
        parts = list(version.release) + [0] * (3 - len(version.release))
        index = {"major": 0, "minor": 1, "patch": 2}[policy]
        parts = parts[:index] + [parts[index] + 1]
        parts += [0] * (2 - len(parts))  # a major bump still reads 3.0, never 3
        return f"{epoch}{'.'.join(map(str, parts))}{dev_suffix}"
    if version.pre is not None:
        kind, number = version.pre
        return f"{epoch}{'.'.join(map(str, version.release))}{kind}{number + 1}{dev_suffix}"
    parts = list(version.release)
    parts[-1] += 1
    return f"{epoch}{'.'.join(map(str, parts))}{dev_suffix}"


def dev_suffix_of(version: str) -> str | None:
    """The development marker as ``version`` spells it, its number reset: ``3.1.0.dev`` -> ``.dev``,
    ``2.2.dev3`` -> ``.dev0``, ``2.2dev0`` -> ``dev0``; None when it has none."""
    match = _DEV_SUFFIX.search(version)
    if match is None or "+" in version:
        return None
    return re.sub(r"\d+$", "0", match.group(0))


def release_base(current_dev: str, scheme: str) -> str:
    """The release a development version follows or leads to.

    ``plus``: the part before ``+`` (``2.1+dev`` -> ``2.1``). ``dev``: the
    version without its dev part (``2.2.dev0`` -> ``2.2``). A string without
    a dev marker is returned unchanged. Raises :class:`ConfigError` for an
    unknown scheme.
    """
    _check_scheme(scheme)
    if scheme == "plus":
        return current_dev.split("+", 1)[0]
    if scheme == "none":
        return current_dev
    return _DEV_SUFFIX.sub("", current_dev)


def is_dev_version(version: str, scheme: str) -> bool:
    """True when ``version`` is a development version of ``scheme`` (``2.1+dev``, ``2.2.dev0``)."""
    _check_scheme(scheme)
    if scheme == "plus":
        return "+" in version
    if scheme == "none":
        return False
    return _DEV_SUFFIX.search(version) is not None


def dev_markers(current: str, scheme: str) -> list[str]:
    """The strings that mark "the version under development" in docs, longest first.

    ``plus``: ``2.1+dev`` -> ``["2.1+dev", "2.1+"]`` (docs written by hand
    keep the seed's bare ``2.1+``); ``2.1+`` -> ``["2.1+"]``. ``dev``:
    ``2.2.dev0`` -> ``["2.2.dev0"]``. Raises :class:`ConfigError` for an
    unknown scheme.
    """
    _check_scheme(scheme)
    if scheme == "none":
        return []
    markers = [current]
    if scheme == "plus" and "+" in current:
        markers.append(release_base(current, scheme) + "+")
    unique = list(dict.fromkeys(markers))
    return sorted(unique, key=len, reverse=True)


_TUPLE_VERSION = re.compile(r"^(?:\d+!)?\d+(?:\.\d+)*")


def version_tuple(version: str) -> tuple[int | str, ...]:
    """The tuple form of a version, as projects keep it beside ``__version__``.

    ``2.1.1+`` and ``2.1.1+dev`` -> ``(2, 1, 1, '+')``; ``2.2rc1`` ->
    ``(2, 2, 'rc1')``; ``2.2`` -> ``(2, 2)``; ``2.3.dev0`` -> ``(2, 3, 'dev0')``;
    ``2.2.post1`` -> ``(2, 2, 'post1')``. Raises :class:`VersionError` when the
    part before any ``+`` is not PEP 440.
    """
    public, plus, _label = version.partition("+")
    try:
        parsed = Version(public)
    except InvalidVersion as exc:
        raise VersionError(
            f"{version!r} is not a PEP 440 version (with an optional '+' marker).",
            hint='Use a form such as "2.2", "2.2rc1" or "2.1+dev".',
        ) from exc
    parts: list[int | str] = list(parsed.release)
    if parsed.pre is not None:
        parts.append(f"{parsed.pre[0]}{parsed.pre[1]}")
    if parsed.post is not None:
        parts.append(f"post{parsed.post}")
    if parsed.dev is not None:
        # 2.3.dev (no number, as some projects write it) keeps its spelling: 'dev', not 'dev0'.
        parts.append(f"dev{parsed.dev}" if re.search(r"dev\d+$", public) else "dev")
    if plus or parsed.local is not None:
        parts.append("+")
    return tuple(parts)


def version_from_tuple(value: tuple[Any, ...], plus_label: str = "") -> str:
    """The version string a tuple stands for: ``(2, 1, 1, '+')`` -> ``2.1.1+`` (+ ``plus_label``).

    Raises :class:`VersionError` when the tuple holds something other than
    leading integers followed by known string parts.
    """
    numbers: list[str] = []
    rest = ""
    seen_string = False
    for item in value:
        if isinstance(item, int) and not isinstance(item, bool) and not seen_string:
            numbers.append(str(item))
        elif isinstance(item, str) and item.isdigit() and not seen_string:
            numbers.append(str(int(item)))  # ("2", "4", "0", "rc1"): the numbers kept as strings
        elif isinstance(item, str):
            seen_string = True
            if item == "+":
                rest += "+" + plus_label
            elif re.fullmatch(r"(a|b|rc)\d+\+?", item):
                # (2, 2, 'rc1+'): the development after 2.2rc1, marker joined to the part
                rest += item if not item.endswith("+") else item + plus_label
            elif re.fullmatch(r"post\d+|dev\d*", item):
                rest += "." + item
            else:
                raise VersionError(f"Unknown part {item!r} in version tuple {value!r}.")
        else:
            raise VersionError(f"Unexpected {item!r} in version tuple {value!r}.")
    if not numbers:
        raise VersionError(f"The version tuple {value!r} has no release numbers.")
    return ".".join(numbers) + rest


def parse_version_tuple(text: str) -> tuple[int | str, ...]:
    """Parse a tuple literal such as ``(2, 1, 1, '+')`` with :func:`ast.literal_eval`.

    Raises :class:`VersionError` when the text is not a tuple literal of
    integers and strings.
    """
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise VersionError(f"{text!r} is not a Python tuple literal.", hint="Write it like (2, 2) or (2, 1, 1, '+').") from exc
    if not isinstance(value, tuple) or not all(
        isinstance(item, (int, str)) and not isinstance(item, bool) for item in value
    ):
        raise VersionError(
            f"{text!r} is not a tuple of integers and strings.", hint="Write it like (2, 2) or (2, 1, 1, '+')."
        )
    return value


def format_version_tuple(t: tuple[int | str, ...], quote: str = "'", quote_numbers: bool = False) -> str:
    """Render a version tuple as Python source, strings in ``quote``: ``(2, 1, 1, '+')``.

    Keep the quote style of the text being replaced by passing its quote, and
    ``quote_numbers`` when it writes its numbers as strings: ``("2", "4", "0")``.
    A one-element tuple keeps its trailing comma: ``(3,)``.
    """
    items = [f"{quote}{item}{quote}" if isinstance(item, str) or quote_numbers else str(item) for item in t]
    if len(items) == 1:
        return f"({items[0]},)"
    return "(" + ", ".join(items) + ")"


def build_backend(root: Path) -> str:
    """The build backend the project at ``root`` declares, for messages.

    Reads ``[build-system].build-backend`` from ``root/pyproject.toml``;
    returns ``"setuptools (setup.py, no pyproject build-system)"`` when it is
    absent. Raises :class:`ConfigError` when pyproject.toml cannot be parsed.
    """
    pyproject = Path(root) / "pyproject.toml"
    fallback = "setuptools (setup.py, no pyproject build-system)"
    if not pyproject.is_file():
        return fallback
    try:
        import tomllib

        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except ImportError:  # Python 3.10
        import tomlkit

        try:
            data = tomlkit.parse(pyproject.read_text(encoding="utf-8")).unwrap()
        except Exception as exc:  # tomlkit raises several unrelated types
            raise ConfigError(f"{pyproject} is not valid TOML: {exc}", hint="Fix the file's syntax.") from exc
    except ValueError as exc:  # tomllib.TOMLDecodeError is a ValueError
        raise ConfigError(f"{pyproject} is not valid TOML: {exc}", hint="Fix the file's syntax.") from exc
    backend = data.get("build-system", {}).get("build-backend")
    if isinstance(backend, str) and backend:
        return backend
    return fallback


def _refuse_non_pep440(config: Config, what: str) -> None:
    backend = build_backend(config.root)
    raise ConfigError(
        f"{what} is not a PEP 440 version; the project's build backend ({backend}) cannot read it.",
        hint=(
            'Set plus-label = "dev" in [tool.releaselib] (the development version becomes 2.1+dev), '
            "or, for a legacy setup.py project that must keep the literal 2.1+, set allow-non-pep440 = true."
        ),
    )


def check_buildable(config: Config) -> None:
    """Refuse a configuration that would write a version the build cannot read.

    With the plus scheme and an empty ``plus_label`` the development version
    is the literal ``2.1+``, which is not PEP 440. Unless
    ``config.allow_non_pep440`` is set this raises :class:`ConfigError`,
    naming the project's declared build backend and the form to use instead.
    """
    if config.dev_scheme == "plus" and config.plus_label == "" and not config.allow_non_pep440:
        _refuse_non_pep440(config, 'With dev-scheme = "plus" and plus-label = "", the development version (e.g. 2.1+)')


def check_writable(version: str, config: Config) -> None:
    """Refuse to write ``version`` into a version file when the build could not read it.

    Passes for any PEP 440 version, and for anything when
    ``config.allow_non_pep440`` is set. Otherwise raises :class:`ConfigError`
    naming the build backend and the form to use.
    """
    if config.allow_non_pep440:
        return
    try:
        Version(version)
    except InvalidVersion:
        _refuse_non_pep440(config, f"The version {version!r} to be written")
