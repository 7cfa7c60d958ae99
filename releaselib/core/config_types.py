"""The frozen shape of ``[tool.releaselib]``, shared by every module.

Parsing and validation live in :mod:`releaselib.infra.config`; this module only
declares what a valid configuration holds, so that every other module can
depend on the shape without depending on the parser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class VersionFile:
    """A file holding the version, and the pattern that locates it.

    ``pattern`` contains exactly one placeholder: ``{version}`` (the version as
    a string, e.g. ``2.2`` or ``2.2+dev``) or ``{version_tuple}`` (a Python tuple
    such as ``(2, 2, 'rc1')`` or ``(2, 1, 1, '+')``).
    """

    path: str
    pattern: str


@dataclass(frozen=True)
class MatrixConfig:
    """The test matrix: which Pythons, how to disable the C extension, what to run."""

    python: tuple[str, ...] = ()
    allow_missing: tuple[str, ...] = ()  # versions that may be absent from this machine
    # e.g. "PKG_NO_EXT" (set to "1" to skip the build), or "PKG_INSTALL_EXTENSIONS=false" (set to that value)
    no_extension_env: str | None = None
    extension_check: str | None = None  # Python code printing "True" when the extension loaded
    test_command: str = "python -m pytest -q"
    doctest_command: str | None = None
    timeout: float = 900.0
    test_requires: tuple[str, ...] = ("pytest",)
    platforms: tuple[str, ...] = ()  # wheel platforms expected, e.g. ("linux", "macos", "windows")
    allow_missing_platforms: tuple[str, ...] = ()
    wheelhouse: str | None = None  # folder of wheels built elsewhere (CI runners)
    # Other ways to switch the extension off than an environment variable:
    # PEP 517 config settings ("KEY=VALUE", e.g. "--build-option=--without-speedups")
    # given to pip for the "without" cells, setup.py global options (pip's legacy
    # --global-option, e.g. "--without-speedups"), or the project's own tests
    # exercise both implementations (one cell per Python).
    no_extension_config_settings: tuple[str, ...] = ()
    no_extension_global_option: tuple[str, ...] = ()
    tests_both_implementations: bool = False
    pre_build: str | None = None  # shell command run in the clean export before building (e.g. cythonize)
    # What pre_build needs beyond the build requirements (Cython, where only the C file is built)
    pre_build_requires: tuple[str, ...] = ()
    twine_strict: bool = True  # false: twine check warnings are shown and recorded, not fatal


    @property
    def no_extension_variable(self) -> tuple[str, str] | None:
        """The variable and value that switch the extension off: ``("PKG_NO_EXT", "1")``, or None."""
        if not self.no_extension_env:
            return None
        name, equals, value = self.no_extension_env.partition("=")
        return name, value if equals else "1"


@dataclass(frozen=True)
class PublishConfig:
    """Where the files go. Credentials are never here: only the names of env vars."""

    repository_url: str = "https://upload.pypi.org/legacy/"
    index_url: str = "https://pypi.org/simple/"  # where installs come from, to verify
    username_env: str = "TWINE_USERNAME"
    password_env: str = "TWINE_PASSWORD"


@dataclass(frozen=True)
class DocsCheckConfig:
    """The published docs page that must show the new version."""

    url: str | None = None
    timeout: float = 600.0
    interval: float = 10.0
    version_pattern: str | None = None  # regex finding the version the page declares (group 1)


@dataclass(frozen=True)
class AnnounceConfig:
    """The announcement mail. The password comes from ``password_env`` only."""

    smtp_host: str | None = None
    smtp_port: int = 587
    starttls: bool = True
    user: str | None = None
    password_env: str = "RELEASELIB_SMTP_PASSWORD"
    sender: str | None = None
    to: tuple[str, ...] = ()
    subject: str = "[ANN] {package} {version} released"
    template: str | None = None  # path to a template in the project; default is bundled
    links: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApiWaiver:
    """One API change let through the compatibility policy on purpose, and why."""

    object: str  # dotted path or glob: "pkg.old_function", "pkg.compat.*"
    reason: str
    version: str | None = None  # only for this release; None: whenever it applies


@dataclass(frozen=True)
class ApiConfig:
    """The public API check (phase 00a) and the compatibility policy."""

    check: bool = True  # false: the phase reports and never refuses
    source: str | None = None  # folder holding the package; default: src/ or the root
    exclude: tuple[str, ...] = ()  # module globs that are not public API, e.g. "pkg.testing"
    deprecation_period: int = 4  # releases a name stays deprecated before it may go
    deprecation_helpers: tuple[str, ...] = ()  # the project's own deprecate functions/decorators
    major_may_break: bool = True  # a major release (first number moves) may remove without deprecation
    waivers: tuple[ApiWaiver, ...] = ()


@dataclass(frozen=True)
class Config:
    """A validated, frozen ``[tool.releaselib]`` for one project."""

    root: Path
    package: str  # distribution name, as on the index
    import_name: str  # the importable package, e.g. "pymongo"
    dev_scheme: str = "plus"  # "plus": 2.1 -> 2.1+ ; "dev": 2.2.dev0 ; "none": the files hold the last release
    version_source: str = "files"  # "files": version files hold it ; "scm": the git tag is the version
    next_version: str = ""  # "patch" | "minor" | "major": what the dev scheme's next version bumps ("" = the scheme's own)
    plus_label: str = "dev"  # the buildable plus form: 2.1+dev ; "" writes the literal 2.1+
    dev_suffix: str = ".dev0"  # the dev scheme's marker as the project writes it: ".dev0" (2.3.dev0), ".dev" (2.3.dev)
    allow_non_pep440: bool = False  # permit writing a form the build backend cannot read
    tag: str = "{version}"
    commit_message: str = "BUMP {version}"
    post_release_message: str = "BUMP {version}"
    branch: str = "main"
    remote: str = "origin"
    changelog: str | None = None
    changelog_required: bool = True
    changelog_tool: str = ""  # "towncrier": 02 builds the section from news fragments; "" drafts it from the git log
    docs: tuple[str, ...] = ()  # globs of files where dev-version markers are replaced
    version_files: tuple[VersionFile, ...] = ()
    runbooks: str | None = None  # folder of project notebooks overriding bundled phases
    secrets: tuple[str, ...] = ()  # extra env var names whose values must never be archived
    push_timeout: float = 60.0
    matrix: MatrixConfig = field(default_factory=MatrixConfig)
    publish: PublishConfig = field(default_factory=PublishConfig)
    docs_check: DocsCheckConfig = field(default_factory=DocsCheckConfig)
    announce: AnnounceConfig = field(default_factory=AnnounceConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    detected: bool = False  # True when no table existed and the layout was autodetected
    source: str = field(default="", compare=False)  # where the settings came from: a file, the pyproject table, or "detected"
    detection: tuple[str, ...] = field(default=(), compare=False)  # what detection found and where, one line each, for `plan`

    def secret_env_names(self) -> tuple[str, ...]:
        """Every environment variable whose value must never reach disk."""
        names = [self.publish.password_env, self.announce.password_env, *self.secrets]
        return tuple(dict.fromkeys(names))
