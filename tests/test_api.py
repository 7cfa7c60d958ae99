"""The API check and the compatibility policy (phase 00a) on fixture git histories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from releaselib.cli import main
from releaselib.core.errors import CompatibilityError, ConfigError
from releaselib.infra.config import load_config
from releaselib.phases.api import check_api
from releaselib.phases.api.deprecations import module_deprecations
from tests.fixtures_api import (
    BASE,
    DEPRECATED_DUMPS,
    PLAIN_DUMPS,
    commit_all,
    history_deprecating_dumps,
    make_project,
    release,
    set_module,
    write,
)
from tests.helpers import git


def check(repo: Path, version: str, tmp_path: Path, **kwargs):
    return check_api(repo, load_config(repo), version, cache_dir=tmp_path / "cache", **kwargs)


def refused(report, path: str) -> str:
    """The rule that refuses ``path`` (fails the test when nothing refuses it)."""
    rules = [v.rule for v in report.blocking if v.change.path == path]
    assert rules, f"{path} was not refused: {report}"
    with pytest.raises(CompatibilityError):
        report.raise_for_violations()
    return rules[0]


def allowed(report) -> None:
    assert report.ok, str(report)
    report.raise_for_violations()


def test_a_bug_fix_release_that_adds_a_public_function_is_refused(tmp_path: Path) -> None:
    repo = make_project(tmp_path)
    release(repo, "1.0")
    set_module(repo, BASE + "\n\ndef encode_many(values):\n    return [encode(v) for v in values]\n")
    commit_all(repo, "Add encode_many")

    report = check(repo, "1.0.1", tmp_path)
    assert report.kind == "bug-fix" and report.against == "1.0"
    assert "a bug-fix release adds no public API" in refused(report, "fixpkg.encode_many")
    violation = report.blocking[0]
    assert violation.change.where == "src/fixpkg/__init__.py:21"
    assert "Release it as 1.1 (a minor release)" in violation.todo
    assert report.summary() == "1 addition, 0 deprecations, 0 removals — refused for a bug-fix release: 1 violation"
    # The same change is fine in a minor release.
    allowed(check(repo, "1.1", tmp_path))


def test_a_bug_fix_release_that_deprecates_is_refused(tmp_path: Path) -> None:
    repo = make_project(tmp_path, BASE + PLAIN_DUMPS)
    release(repo, "1.0")
    set_module(repo, BASE + DEPRECATED_DUMPS)
    commit_all(repo, "Deprecate dumps")
    assert "deprecates nothing" in refused(check(repo, "1.0.1", tmp_path), "fixpkg.dumps")
    minor = check(repo, "1.1", tmp_path)
    allowed(minor)
    assert minor.summary() == "0 additions, 1 deprecation, 0 removals — allowed for a minor release"


def test_a_removal_after_only_two_releases_of_deprecation_is_refused(tmp_path: Path) -> None:
    repo = history_deprecating_dumps(tmp_path, deprecated_in=2)
    report = check(repo, "0.4", tmp_path)
    rule = refused(report, "fixpkg.dumps")
    assert rule == "a removal needs 4 releases of deprecation; fixpkg.dumps was deprecated in 2 releases (0.2, 0.3)"
    violation = report.blocking[0]
    assert violation.change.kind == "removed" and violation.change.where == "src/fixpkg/__init__.py:21"
    assert "deprecate it first" in violation.todo and "release it as 1.0 (a major release)" in violation.todo


def test_a_removal_after_four_releases_of_deprecation_is_allowed(tmp_path: Path) -> None:
    repo = history_deprecating_dumps(tmp_path, deprecated_in=4)
    report = check(repo, "0.6", tmp_path)
    allowed(report)
    assert [(c.kind, c.path) for c in report.changes] == [("removed", "fixpkg.dumps")]
    assert report.summary() == "0 additions, 0 deprecations, 1 removal — allowed for a minor release"
    assert report.rows()[0][4] == "ok: deprecated since 0.2"
    assert [(e.tag, sorted(e.deprecated)) for e in report.ledger.entries] == [
        ("0.1", []), ("0.2", ["fixpkg.dumps"]), ("0.3", ["fixpkg.dumps"]), ("0.4", ["fixpkg.dumps"]), ("0.5", ["fixpkg.dumps"]),
    ]


def test_a_major_release_may_break_and_lists_what_broke(tmp_path: Path) -> None:
    repo = make_project(tmp_path, BASE + PLAIN_DUMPS)
    release(repo, "1.0")
    set_module(repo, BASE)
    commit_all(repo, "Remove dumps")
    report = check(repo, "2.0", tmp_path)
    allowed(report)
    assert [(c.kind, c.path) for c in report.changes] == [("removed", "fixpkg.dumps")]
    assert report.summary() == "0 additions, 0 deprecations, 1 removal — allowed for a major release (it breaks what is listed)"


def test_an_incompatible_signature_change_counts_as_a_removal(tmp_path: Path) -> None:
    repo = make_project(tmp_path)
    release(repo, "1.0")
    set_module(repo, BASE.replace("def decode(text, strict=True):", "def decode(text, encoding, strict=False):"))
    commit_all(repo, "decode needs an encoding")
    report = check(repo, "1.1", tmp_path)
    assert "was never deprecated" in refused(report, "fixpkg.decode")
    kinds = {c.kind: c for c in report.changes}
    assert "parameter encoding: parameter was added as required" in kinds["incompatible"].detail
    assert kinds["default"].detail == "parameter strict: parameter default was changed (True -> False)"
    assert report.count("removed", "incompatible") == 1


def test_private_names_and_excluded_modules_are_ignored(tmp_path: Path) -> None:
    repo = make_project(tmp_path, table='\n[tool.releaselib.api]\nexclude = ["fixpkg.testing"]\n')
    write(repo, "src/fixpkg/_impl.py", "def helper():\n    return 1\n")
    write(repo, "src/fixpkg/testing.py", "def fixture():\n    return 1\n")
    commit_all(repo, "private module, testing module")
    release(repo, "1.0")
    set_module(repo, BASE.replace("def _internal():", "def _internal(changed, signature):") + "\n\ndef _more():\n    pass\n",
               extra={"src/fixpkg/_impl.py": "def other():\n    return 2\n", "src/fixpkg/testing.py": "X = 1\n"})
    commit_all(repo, "private changes only")
    report = check(repo, "1.0.1", tmp_path)
    assert report.changes == []
    allowed(report)


def test_names_in_all_are_the_public_api(tmp_path: Path) -> None:
    module = BASE.replace('import warnings\n', 'import warnings\nfrom fixpkg._impl import helper\n\n__all__ = ["encode", "helper"]\n')
    repo = make_project(tmp_path, module)
    write(repo, "src/fixpkg/_impl.py", "def helper(a):\n    return a\n")
    commit_all(repo, "helper")
    release(repo, "1.0")
    write(repo, "src/fixpkg/_impl.py", "def helper(a, b):\n    return a\n")
    set_module(repo, module.replace("def decode(text, strict=True):", "def decode(text):"))
    commit_all(repo, "change helper (exported), decode (not in __all__)")
    report = check(repo, "1.1", tmp_path)
    assert [(c.kind, c.path, c.where) for c in report.changes] == [
        ("incompatible", "fixpkg.helper", "src/fixpkg/_impl.py:1")
    ]


def test_a_waiver_with_a_reason_lets_the_release_proceed(tmp_path: Path) -> None:
    table = ('\n[[tool.releaselib.api.waivers]]\nobject = "fixpkg.dumps"\n'
             'reason = "dumps never worked for nested values; nobody can depend on it"\n')
    repo = make_project(tmp_path, BASE + PLAIN_DUMPS, table=table)
    release(repo, "1.0")
    set_module(repo, BASE)
    commit_all(repo, "Remove dumps")
    report = check(repo, "1.1", tmp_path)
    allowed(report)
    assert [(v.change.path, v.waiver) for v in report.waived] == [
        ("fixpkg.dumps", "dumps never worked for nested values; nobody can depend on it")
    ]
    assert report.summary() == "0 additions, 0 deprecations, 1 removal — allowed for a minor release with 1 waiver"
    assert report.as_record()["waivers"][0]["waiver"].startswith("dumps never worked")


def test_a_waiver_without_a_reason_is_a_config_error(tmp_path: Path) -> None:
    repo = make_project(tmp_path, table='\n[[tool.releaselib.api.waivers]]\nobject = "fixpkg.dumps"\nreason = " "\n')
    with pytest.raises(ConfigError, match="has no `reason`"):
        load_config(repo)


def test_the_ledger_is_cached_per_tag_and_grows_by_one_tag(tmp_path: Path) -> None:
    repo = history_deprecating_dumps(tmp_path, deprecated_in=2)
    first = check(repo, "0.4", tmp_path)
    assert first.ledger.computed == ["0.1", "0.2", "0.3"]  # 0.3 from the surface loaded for the comparison
    cache = tmp_path / "cache"
    assert sorted(p.name for p in cache.iterdir()) == ["0.1.json", "0.2.json", "0.3.json"]
    assert json.loads((cache / "0.2.json").read_text())["deprecated"]["fixpkg.dumps"]["line"] == 23
    release(repo, "0.4")
    set_module(repo, BASE + "\n\ndef new():\n    pass\n")
    commit_all(repo, "new")
    second = check(repo, "0.5", tmp_path)
    assert second.ledger.computed == ["0.4"]
    assert [e.tag for e in second.ledger.entries] == ["0.1", "0.2", "0.3", "0.4"]


def test_deprecations_found_statically() -> None:
    source = '''
import warnings
from typing_extensions import deprecated

@deprecated("use new")
def decorated(): ...

def warns_future():
    warnings.warn(FutureWarning("going"))

def conditional(x=None):
    if x is not None:
        warnings.warn("x is deprecated", DeprecationWarning)

def helper_call():
    _deprecate("helper_call")

class Old:
    def __init__(self):
        warnings.warn("Old", category=PendingDeprecationWarning)

    def method(self):
        warnings.warn("method", DeprecationWarning)

_MOVED = {"OLD_NAME": "NEW_NAME", "OTHER": "X"}

def __getattr__(name):
    if name in _MOVED:
        warnings.warn(f"{name} moved", DeprecationWarning, stacklevel=2)
        return globals()[_MOVED[name]]
    if name == "__version__":
        warnings.warn("__version__ is deprecated", DeprecationWarning)
        return "1"
    raise AttributeError(name)
'''
    found = module_deprecations(source, "m", helpers=["pkg._compat._deprecate"])
    assert sorted(found) == ["m.OLD_NAME", "m.OTHER", "m.Old", "m.Old.method", "m.__version__",
                             "m.decorated", "m.helper_call", "m.warns_future"]
    assert found["m.Old"].how == "warns PendingDeprecationWarning in __init__"
    assert found["m.decorated"].how == "@deprecated"


def test_deprecated_bases_proxies_and_modules_found_statically() -> None:
    source = """
import warnings

class Base:
    def __init__(self):
        warnings.warn("Base", DeprecationWarning)

class Keeps(Base):
    def __init__(self, x):
        super().__init__()

class Replaces(Base):
    def __init__(self):
        pass

class Proxy:
    def __getattribute__(self, item):
        warnings.warn("moved", DeprecationWarning)
        return 1

json = Proxy()
warnings.warn("this module is deprecated", DeprecationWarning)
"""
    found = module_deprecations(source, "m")
    assert sorted(found) == ["m", "m.Base", "m.Keeps", "m.json"]
    assert found["m.Keeps"].how == "inherits the warning of Base"
    assert found["m"].how == "warns DeprecationWarning on import"


def test_a_removed_module_whose_names_were_all_deprecated_long_enough_may_go(tmp_path: Path) -> None:
    repo = make_project(tmp_path)
    write(repo, "src/fixpkg/legacy.py", "import warnings\nfrom fixpkg._impl import helper\n\n"
          "def old():\n    warnings.warn('old', DeprecationWarning)\n\n"
          "class Older:\n    def __init__(self):\n        warnings.warn('Older', DeprecationWarning)\n")
    write(repo, "src/fixpkg/_impl.py", "def helper():\n    return 1\n")
    commit_all(repo, "legacy module, deprecated")
    for version in ("1.0", "1.1", "1.2"):
        release(repo, version)
    (repo / "src/fixpkg/legacy.py").unlink()
    commit_all(repo, "Remove the legacy module")
    three = check(repo, "1.3", tmp_path)
    assert [(c.kind, c.path, c.members) for c in three.changes] == [
        ("removed", "fixpkg.legacy", ("fixpkg.legacy.Older", "fixpkg.legacy.old"))
    ]
    assert "fixpkg.legacy was deprecated in 3 releases (1.0, 1.1, 1.2)" in refused(three, "fixpkg.legacy")
    git(repo, "tag", "-a", "1.2.1", "-m", "1.2.1", "HEAD~1")  # a fourth release with the module deprecated
    allowed(check(repo, "1.3", tmp_path))


def test_names_imported_from_the_package_are_public_without_all(tmp_path: Path) -> None:
    repo = make_project(tmp_path, BASE.replace("import warnings\n", "import warnings\nimport re\n"
                                                "from fixpkg._native import escape as escape\n"))
    write(repo, "src/fixpkg/_native.py", "def escape(s):\n    return s\n")
    commit_all(repo, "escape, re-exported")
    release(repo, "1.0")
    write(repo, "src/fixpkg/_native.py", "def escape(s, quote):\n    return s\n")
    set_module(repo, BASE.replace("import warnings\n", "import warnings\nimport json\n"
                                  "from fixpkg._native import escape as escape\n"))
    commit_all(repo, "escape needs quote; json instead of re")
    report = check(repo, "1.1", tmp_path)
    assert [(c.kind, c.path) for c in report.changes] == [("incompatible", "fixpkg.escape")]  # re, json: not ours


def test_the_api_command_prints_the_table_and_fails_on_a_violation(tmp_path: Path, capsys) -> None:
    repo = history_deprecating_dumps(tmp_path, deprecated_in=2)
    code = main(["api", "0.4", "--repo", str(repo), "--outputs", str(tmp_path / "outputs")])
    out, err = capsys.readouterr()
    assert code == 1
    assert "fixpkg.dumps" in out and "REFUSED" in out and "Deprecation ledger" in out
    assert "0 additions, 0 deprecations, 1 removal — refused for a minor release: 1 violation" in out
    assert "breaks the compatibility policy" in err
    assert (tmp_path / "outputs" / "fixpkg" / "api-ledger" / "0.2.json").is_file()
    # Between two tags of the history: 0.1 -> 0.2 deprecated dumps, allowed for a minor release.
    assert main(["api", "0.2", "--repo", str(repo), "--ref", "0.2", "--outputs", str(tmp_path / "outputs")]) == 0
    assert "0 additions, 1 deprecation, 0 removals — allowed for a minor release" in capsys.readouterr().out


def test_the_phase_runs_headless_and_review_shows_the_waiver(tmp_path: Path, capsys) -> None:
    table = ('\n[[tool.releaselib.api.waivers]]\nobject = "fixpkg.dumps"\nversion = "1.1"\n'
             'reason = "dumps was never documented"\n')
    repo = make_project(tmp_path, BASE + PLAIN_DUMPS, table=table)
    release(repo, "1.0")
    set_module(repo, BASE + DEPRECATED_DUMPS.replace("dumps", "loads") + "\n\ndef encode_all(values):\n    return values\n")
    commit_all(repo, "Remove dumps, deprecate loads (added deprecated), add encode_all")
    outputs = tmp_path / "outputs"
    assert main(["run", "1.1", "--repo", str(repo), "--outputs", str(outputs), "--phases", "api"]) == 0
    record = json.loads((outputs / "fixpkg" / "1.1" / "record.json").read_text())
    api = next(e for e in record["entries"] if e["phase"] == "00a_api")["values"]["api"]
    assert api["summary"] == "2 additions, 1 deprecation, 1 removal — allowed for a minor release with 1 waiver"
    assert [w["object"] for w in api["waivers"]] == ["fixpkg.dumps"]
    capsys.readouterr()
    assert main(["review", "1.1", "--repo", str(repo), "--outputs", str(outputs)]) == 0
    text = capsys.readouterr().out
    assert "API  2 additions, 1 deprecation, 1 removal — allowed for a minor release with 1 waiver  (against 1.0)" in text
    assert "waived   fixpkg.dumps (removed): dumps was never documented" in text
    assert "ledger   1 earlier release; deprecated in them: nothing" in text


def test_preflight_and_plan_run_the_api_check_when_the_run_has_the_phase(tmp_path: Path) -> None:
    from releaselib.core.registry import API, PREFLIGHT
    from releaselib.engine.context import start
    from releaselib.phases import preflight

    repo = history_deprecating_dumps(tmp_path, deprecated_in=2)
    release = start(PREFLIGHT, "0.4", repo=repo, dry_run=True, outputs=tmp_path / "outputs")
    name = "public API follows the compatibility policy"
    result = next(r for r in preflight.run_checks(release, [PREFLIGHT, API]).results if r.name == name)
    assert not result.ok
    assert "fixpkg.dumps" in result.detail and "deprecated in 2 releases (0.2, 0.3)" in result.detail
    assert name not in [r.name for r in preflight.run_checks(release, [PREFLIGHT]).results]
