"""The suite's own parallel set-up: tests sharing a module fixture run on one worker, which builds it once.

A module fixture of an end-to-end module is a whole release; built once per
worker it costs minutes. Under pytest 9.2 pytest-xdist's groups were silently
ignored (pytest-xdist#1386), and a group marker added after xdist's own
collection hook is never seen: both made the release run twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CONFTEST = Path(__file__).with_name("conftest.py")

MODULE = '''
import os, pytest
pytestmark = pytest.mark.e2e

@pytest.fixture(scope="module")
def released():
    with open(os.environ["SETUPS_LOG"], "a") as log:
        log.write(f"setup {os.getpid()}\\n")
    yield

def test_1(released): pass
def test_2(released): pass
def test_3(released): pass
def test_x(): pass
def test_y(): pass
'''


def test_a_module_fixture_is_built_once_when_tests_run_on_two_workers(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "__init__.py").write_text("")
    (tests / "conftest.py").write_text(CONFTEST.read_text())
    (tests / "test_shared.py").write_text(MODULE)
    for n in range(3):
        (tests / f"test_other{n}.py").write_text("def test_p(): pass\ndef test_q(): pass\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    e2e: slow\n")
    log = tmp_path / "setups.log"
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
                             "--dist", "loadgroup", "tests"], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "SETUPS_LOG": str(log)}, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert log.read_text().count("setup") == 1, log.read_text()
