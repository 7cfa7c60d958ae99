"""What the configuration means: checks past the shape, derived names, and the frozen Config."""

from __future__ import annotations

import configparser
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from releaselib.core.config_types import (
    Config,
    DocsCheckConfig,
    MatrixConfig,
    PublishConfig,
    VersionFile,
)
from releaselib.core.errors import ConfigError
from releaselib.infra.config.schema import (
    _LOCAL_LABEL_RE,
    CHANGELOG_TOOLS,
    DEV_SCHEMES,
    NEXT_VERSION_POLICIES,
    PYPROJECT,
    TABLE,
    VERSION_SOURCES,
    _read_text,
    _toml_key,
    pattern_regex,
)

try:  # Python 3.11+
    import tomllib as _tomllib
except ImportError:  # pragma: no cover - Python 3.10
    _tomllib = None  # type: ignore[assignment]


# -- meaning -----------------------------------------------------------------------


def _freeze(
    root: Path,
    data: Mapping[str, Any],
    values: dict[str, Any],
    *,
    detected: bool = False,
    source: str = "",
    detection: tuple[str, ...] = (),
) -> Config:
    """Check what the values mean, derive package names, and build the Config."""
    values = dict(values)
    if "package" not in values:
        values["package"] = _package_name(root, data)
    if "import_name" not in values:
        values["import_name"] = _import_name(values.get("version_files", ()), values["package"], root, data)
    config = Config(root=root, detected=detected, source=source, detection=detection, **values)
    _check_meaning(config, data)
    return config


def _check_meaning(config: Config, data: Mapping[str, Any]) -> None:
    where = f"[{TABLE}]"
    if config.dev_scheme not in DEV_SCHEMES:
        raise ConfigError(
            f"`dev-scheme` in {where} must be one of {', '.join(map(repr, DEV_SCHEMES))}, got {config.dev_scheme!r}.",
            hint='Use dev-scheme = "plus" (2.1 -> 2.1+dev after releasing 2.1), "dev" (2.2.dev0) '
            'or "none" (the files hold the last release until the next one).',
        )
    if config.version_source not in VERSION_SOURCES:
        raise ConfigError(
            f"`version-source` in {where} must be one of {', '.join(map(repr, VERSION_SOURCES))}, got {config.version_source!r}.",
            hint='Use version-source = "files" (version files hold the version) or "scm" (the git tag is the version).',
        )
    if config.version_source == "scm" and config.version_files:
        raise ConfigError(
            f'`version-source = "scm"` in {where} takes the version from the git tag, but version-files are listed too.',
            hint='Remove the [[version-files]] entries, or set version-source = "files".',
        )
    if config.next_version not in NEXT_VERSION_POLICIES:
        raise ConfigError(
            f"`next-version` in {where} must be one of \"patch\", \"minor\", \"major\", got {config.next_version!r}.",
            hint='Write next-version = "minor" to always move to the next minor after a release, or remove the key.',
        )
    if config.changelog_tool not in CHANGELOG_TOOLS:
        raise ConfigError(
            f"`changelog-tool` in {where} must be \"towncrier\" or absent, got {config.changelog_tool!r}.",
            hint='Write changelog-tool = "towncrier" when the changelog is built from news fragments, or remove the key.',
        )
    if config.plus_label and not _LOCAL_LABEL_RE.match(config.plus_label):
        raise ConfigError(
            f"`plus-label` in {where} must be a PEP 440 local label (letters, digits, and . _ - between them), "
            f"got {config.plus_label!r}.",
            hint='Use plus-label = "dev" (2.1+dev), or "" for the literal 2.1+ of a legacy setup.py project.',
        )
    if not re.fullmatch(r"\.?dev\d*", config.dev_suffix):
        raise ConfigError(
            f"`dev-suffix` in {where} must be the development marker as the project writes it "
            f"(\".dev0\", \".dev\" or \"dev0\"), got {config.dev_suffix!r}.",
            hint='Use dev-suffix = ".dev0" (2.3.dev0) or ".dev" (2.3.dev, no number), or remove the key.',
        )
    from releaselib.core.versions import check_buildable

    check_buildable(config)

    for key, template in (("tag", config.tag), ("commit-message", config.commit_message)):
        _check_template(key, where, template, ("version",), require="version")
    # The post-release commit may say only "Back to development" (no version).
    _check_template("post-release-message", where, config.post_release_message, ("version",))
    _check_template("subject", f"[{TABLE}.announce]", config.announce.subject, ("version", "package"))

    for name in ("package", "import_name", "branch", "remote"):
        if not getattr(config, name).strip():
            raise ConfigError(f"`{_toml_key(name)}` in {where} must not be empty.", hint=f"Set {_toml_key(name)} = \"...\".")
    if not config.import_name.isidentifier():
        raise ConfigError(
            f"`import-name` {config.import_name!r} is not a Python identifier.",
            hint='Set import-name = "<the name you import>" in [tool.releaselib].',
        )

    _check_version_files(config)
    _check_static_project_version(config, data)

    if config.changelog is not None:
        path = _inside(config.root, config.changelog, "changelog")
        if not path.is_file() and config.changelog_required:
            raise ConfigError(
                f"The changelog {config.changelog} (`changelog` in {where}) does not exist.",
                hint=f"Create {config.changelog}, or set changelog-required = false in {where}.",
            )

    for pattern in config.docs:
        if not _glob_matches_a_file(config.root, pattern):
            raise ConfigError(
                f"The docs glob {pattern!r} (`docs` in {where}) matches no file.",
                hint="Fix or remove the glob; globs are relative to the project root, e.g. \"doc/**/*.rst\".",
            )

    if config.runbooks is not None and not _inside(config.root, config.runbooks, "runbooks").is_dir():
        raise ConfigError(
            f"The runbooks folder {config.runbooks} (`runbooks` in {where}) does not exist.",
            hint="Create it with the phase notebooks that override the bundled ones, or remove the key.",
        )
    for name in config.secrets:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ConfigError(
                f"`secrets` in {where} must hold environment variable names, got {name!r}.",
                hint='List names, never values: secrets = ["MY_TOKEN"].',
            )
    _check_positive("push-timeout", where, config.push_timeout)
    _check_matrix(config.matrix)
    _check_publish(config.publish)
    _check_docs_check(config.docs_check)
    _check_announce(config)
    if config.api.deprecation_period < 0:
        raise ConfigError(
            f"`deprecation-period` in [{TABLE}.api] must be 0 or more releases, got {config.api.deprecation_period}.",
            hint="The seed's policy is deprecation-period = 4.",
        )


def _check_template(key: str, where: str, template: str, names: tuple[str, ...], require: str | None = None) -> None:
    if require and "{" + require + "}" not in template:
        raise ConfigError(
            f"`{key}` in {where} must contain {{{require}}}, got {template!r}.",
            hint=f'Write e.g. {key} = "{_TEMPLATE_EXAMPLES.get(key, "{version}")}".',
        )
    try:
        template.format(**{name: "1.0" for name in names})
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"`{key}` in {where} is not a valid template ({template!r}): {exc!r}.",
            hint=f"Only {', '.join('{' + n + '}' for n in names)} may appear in braces; write a literal brace as {{{{ or }}}}.",
        ) from exc


_TEMPLATE_EXAMPLES = {"tag": "{version}", "commit-message": "BUMP {version}", "post-release-message": "BUMP {version}"}


def _inside(root: Path, relpath: str, key: str) -> Path:
    """``root / relpath``, refusing a path that leaves the project."""
    path = Path(relpath)
    if path.is_absolute() or ".." in path.parts or not relpath.strip():
        raise ConfigError(
            f"`{key}` path {relpath!r} must be relative to the project root and stay inside it.",
            hint=f'Write it relative to {root}, e.g. "src/pkg/__init__.py".',
        )
    return root / path


def _glob_matches_a_file(root: Path, pattern: str) -> bool:
    """Whether ``pattern`` matches a file outside ``.git``; stops at the first one."""
    if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
        raise ConfigError(
            f"The docs glob {pattern!r} must stay inside the project.",
            hint='Write globs relative to the project root, e.g. "doc/**/*.rst".',
        )
    try:
        return any(
            path.is_file() and ".git" not in path.relative_to(root).parts for path in root.glob(pattern)
        )
    except (ValueError, NotImplementedError) as exc:
        raise ConfigError(f"The docs glob {pattern!r} is not valid: {exc}", hint="Fix the glob.") from exc


def _check_version_files(config: Config) -> None:
    where = f"[[{TABLE}.version-files]]"
    seen: set[VersionFile] = set()
    for vf in config.version_files:
        if vf in seen:
            raise ConfigError(
                f"The version file {vf.path} with pattern {vf.pattern!r} is listed twice in {where}.",
                hint="Remove the duplicate entry.",
            )
        seen.add(vf)
        regex = pattern_regex(vf)
        path = _inside(config.root, vf.path, "version-files")
        if not path.is_file():
            raise ConfigError(
                f"The version file {vf.path} (in {where}) does not exist.",
                hint="Fix the path; paths are relative to the project root.",
            )
        text = _read_text(path, vf.path)
        matches = list(regex.finditer(text))
        if not matches:
            raise ConfigError(
                f"The pattern {vf.pattern!r} matches nothing in {vf.path}.",
                hint="The pattern must match the line exactly (spaces included), with {version}, "
                "{version_tuple} or {version_short} where the version stands.",
            )
        if len(matches) > 1:
            lines = sorted({text.count("\n", 0, m.start()) + 1 for m in matches})
            raise ConfigError(
                f"The pattern {vf.pattern!r} matches {len(matches)} times in {vf.path} "
                f"(lines {', '.join(map(str, lines))}).",
                hint="Make the pattern more specific so it matches exactly one place, e.g. include the whole assignment.",
            )


def _check_static_project_version(config: Config, data: Mapping[str, Any]) -> None:
    # A static [project].version that no version file rewrites would build
    # the release under the old number: refuse before anything changes.
    project = data.get("project")
    if not isinstance(project, dict) or not isinstance(project.get("version"), str):
        return
    if not any(Path(vf.path) == Path(PYPROJECT) for vf in config.version_files):
        raise ConfigError(
            f"[project].version is set in {PYPROJECT} ({project['version']!r}), but {PYPROJECT} is not among "
            f"the version files, so the release would be built as the old version.",
            hint=f'Add [[{TABLE}.version-files]] with path = "{PYPROJECT}" and pattern = \'version = "{{version}}"\'.',
        )



def _check_positive(key: str, where: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"`{key}` in {where} must be greater than 0, got {value}.", hint=f"Set {key} to a number of seconds, e.g. 60.")


def _check_subset(key: str, subset_of: str, where: str, values: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    extra = [value for value in values if value not in allowed]
    if extra:
        raise ConfigError(
            f"`{key}` in {where} names {', '.join(map(repr, extra))}, which is not in `{subset_of}`.",
            hint=f"List only entries of `{subset_of}` ({', '.join(allowed) or 'empty'}) in `{key}`.",
        )


def _check_extension_switch(matrix: MatrixConfig, where: str) -> None:
    switches = [key for key, on in (
        ("no-extension-env", matrix.no_extension_env is not None),
        ("no-extension-config-settings", bool(matrix.no_extension_config_settings)),
        ("no-extension-global-option", bool(matrix.no_extension_global_option)),
        ("tests-both-implementations", matrix.tests_both_implementations),
    ) if on]
    if len(switches) > 1:
        raise ConfigError(
            f"{' and '.join(f'`{k}`' for k in switches)} in {where} are different ways to switch the extension; "
            "choose one.",
            hint="Keep the one your build reads; remove the others.",
        )
    for option in matrix.no_extension_global_option:
        if not option.startswith("-") or option != option.strip():
            raise ConfigError(
                f"`no-extension-global-option` in {where} holds {option!r}, not a setup.py option.",
                hint='Write e.g. no-extension-global-option = ["--without-speedups"].',
            )
    for setting in matrix.no_extension_config_settings:
        if "=" not in setting:
            raise ConfigError(
                f"`no-extension-config-settings` in {where} holds {setting!r}, not KEY=VALUE.",
                hint='Write e.g. no-extension-config-settings = ["--build-option=--without-speedups"].',
            )


def _check_matrix(matrix: MatrixConfig) -> None:
    where = f"[{TABLE}.matrix]"
    _check_positive("timeout", where, matrix.timeout)
    _check_subset("allow-missing", "python", where, matrix.allow_missing, matrix.python)
    _check_subset("allow-missing-platforms", "platforms", where, matrix.allow_missing_platforms, matrix.platforms)
    if matrix.no_extension_env is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(=\S*)?", matrix.no_extension_env):
        raise ConfigError(
            f"`no-extension-env` in {where} must be an environment variable name, or NAME=VALUE, "
            f"got {matrix.no_extension_env!r}.",
            hint='Write e.g. no-extension-env = "PKG_NO_EXT" (set to 1), or "PKG_INSTALL_EXTENSIONS=false".',
        )
    _check_extension_switch(matrix, where)
    if matrix.pre_build_requires and not matrix.pre_build:
        raise ConfigError(
            f"`pre-build-requires` in {where} names what the pre-build step needs, but there is no `pre-build`.",
            hint='Add the step (e.g. pre-build = "cython pkg/_fast.pyx"), or remove pre-build-requires.',
        )
    if not matrix.test_command.strip():
        raise ConfigError(f"`test-command` in {where} must not be empty.", hint='Write e.g. test-command = "python -m pytest -q".')


def _check_url(key: str, where: str, url: str) -> None:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"`{key}` in {where} must be an http(s) URL, got {url!r}.", hint=f'Write e.g. {key} = "https://example.org/".')


def _check_publish(publish: PublishConfig) -> None:
    where = f"[{TABLE}.publish]"
    _check_url("repository-url", where, publish.repository_url)
    _check_url("index-url", where, publish.index_url)
    for key, value in (("username-env", publish.username_env), ("password-env", publish.password_env)):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ConfigError(
                f"`{key}` in {where} must be an environment variable name, got {value!r}.",
                hint="Name the variable that holds the credential, never the credential itself.",
            )


def _check_docs_check(docs_check: DocsCheckConfig) -> None:
    where = f"[{TABLE}.docs-check]"
    if docs_check.url is not None:
        _check_url("url", where, docs_check.url)
    _check_positive("timeout", where, docs_check.timeout)
    _check_positive("interval", where, docs_check.interval)


def _check_announce(config: Config) -> None:
    announce = config.announce
    where = f"[{TABLE}.announce]"
    if not 0 < announce.smtp_port < 65536:
        raise ConfigError(f"`smtp-port` in {where} must be between 1 and 65535, got {announce.smtp_port}.", hint="Use 587 (STARTTLS), 465 or 25.")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", announce.password_env):
        raise ConfigError(
            f"`password-env` in {where} must be an environment variable name, got {announce.password_env!r}.",
            hint="Name the variable that holds the SMTP password, never the password itself.",
        )
    for key, address in [("sender", announce.sender), *(("to", item) for item in announce.to)]:
        if address is not None and "@" not in address:
            raise ConfigError(f"`{key}` in {where} must be a mail address, got {address!r}.", hint=f'Write e.g. {key} = "dev@example.org".')
    if announce.template is not None and not _inside(config.root, announce.template, "template").is_file():
        raise ConfigError(
            f"The announcement template {announce.template} (`template` in {where}) does not exist.",
            hint="Create it, or remove the key to use the bundled template.",
        )


# -- names ----------------------------------------------------------------------


def _package_name(root: Path, data: Mapping[str, Any]) -> str:
    name = _package_name_or_none(root, data)
    if name is None:
        raise ConfigError(
            f"Cannot tell the package name of {root}: no [project].name in {PYPROJECT}, "
            "no name in setup.cfg [metadata], no name= in setup.py.",
            hint=f'Write package = "<name on the index>" in a releaselib.toml at the project root (or in [{TABLE}]).',
        )
    return name


def _package_name_or_none(root: Path, data: Mapping[str, Any]) -> str | None:
    project = data.get("project")
    if isinstance(project, dict) and isinstance(project.get("name"), str) and project["name"].strip():
        return str(project["name"]).strip()
    setup_cfg = root / "setup.cfg"
    if setup_cfg.is_file():
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(setup_cfg, encoding="utf-8")
            name = parser.get("metadata", "name", fallback="").strip()
        except (configparser.Error, UnicodeDecodeError):
            name = ""
        if name:
            return name
    setup_py = root / "setup.py"
    if setup_py.is_file():
        try:
            text = setup_py.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""
        found = re.search(r"\bname\s*=\s*([\"'])([A-Za-z0-9][A-Za-z0-9._-]*)\1", text)
        if found:
            return found.group(2)
    return None


_NOT_PACKAGES = {"tests", "test", "testing", "docs", "doc", "examples", "benchmarks", "build", "dist", "tools", "scripts"}


def _import_name(version_files: Iterable[VersionFile], package: str, root: Path | None = None,
                 data: Mapping[str, Any] | None = None) -> str:
    """The importable package: from a version file's folder, flit's module name, the distribution
    name where that folder exists, else the one package folder in ``src/`` or at the root."""
    for vf in version_files:
        parts = Path(vf.path).parts
        top = parts[1] if len(parts) > 2 and parts[0] == "src" else parts[0] if len(parts) > 1 else ""
        if top.isidentifier() and top != "src":
            return top
    guess = re.sub(r"[-.]", "_", package)
    flit = ((data or {}).get("tool") or {}).get("flit", {}).get("module", {}).get("name")
    if isinstance(flit, str) and flit.isidentifier():
        return flit
    if root is None:
        return guess
    for folder in (root / "src", root):
        if (folder / guess / "__init__.py").is_file() or (folder / f"{guess}.py").is_file():
            return guess
    for folder in (root / "src", root):
        found = sorted(p.parent.name for p in folder.glob("*/__init__.py")
                       if p.parent.name.isidentifier() and p.parent.name not in _NOT_PACKAGES)
        if len(found) == 1:
            return found[0]
    return guess


