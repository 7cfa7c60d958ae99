"""What the reading commands import: nothing of nbformat, jsonschema or papermill.

Each command runs in a fresh interpreter (as a user's shell would start it)
on a copy of a real record, and reports which heavy modules it loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest_plugins = ["tests.fixtures_record"]  # the `released` and `record` fixtures

HEAVY = ("nbformat", "jsonschema", "papermill", "nbclient", "jupyter_client")

PROBE = f"""\
import json, sys
from releaselib.cli import main
code = main(sys.argv[1:])
print(json.dumps({{"code": code, "loaded": [name for name in {HEAVY!r} if name in sys.modules]}}))
"""


def loaded_by(*argv: str) -> dict:
    result = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("command", ["review", "verify", "status"])
def test_reading_commands_import_no_notebook_machinery(record, command):
    argv = [command, "1.1", "--outputs", str(record.outputs)]
    if command == "status":
        argv += ["--repo", str(record.sandbox.repo)]
    seen = loaded_by(*argv)
    assert seen == {"code": 0, "loaded": []}


def test_verify_still_finds_an_unfinished_cell_and_an_unreadable_notebook(record):
    from releaselib.record.store import sha256_file

    from .fixtures_record import rechain

    data = record.data()
    bump = next(e for e in data["entries"] if e["phase"] == "03_bump")
    path = record.directory / bump["notebook"]
    nb = json.loads(path.read_text())
    code = [cell for cell in nb["cells"] if cell["cell_type"] == "code"]
    code[-1]["execution_count"] = None
    path.write_text(json.dumps(nb))
    tag = next(e for e in data["entries"] if e["phase"] == "04_commit_tag")
    (record.directory / tag["notebook"]).write_text("{not json")
    for entry in (bump, tag):
        entry["notebook_sha256"] = sha256_file(record.directory / entry["notebook"])
    record.write(rechain(data))

    result = subprocess.run([sys.executable, "-m", "releaselib.cli", "verify", "1.1", "--outputs", str(record.outputs)],
                            capture_output=True, text=True, timeout=120, check=False)
    flat = " ".join(result.stderr.split())
    assert result.returncode != 0
    assert f"{bump['notebook']}: cell {nb['cells'].index(code[-1])}: not executed (recorded as succeeded)" in flat
    assert f"{tag['notebook']}: not a readable notebook (NotJSONError" in flat


def test_papermill_loads_without_the_iri_grammar_and_notebooks_still_validate():
    script = (
        "import sys\n"
        "from releaselib.core.imports import skip_iri_grammar\n"
        "assert skip_iri_grammar()\n"
        "import papermill, nbformat\n"
        "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('1')])\n"
        "nbformat.validate(nb)\n"
        "bad = nbformat.v4.new_notebook(); bad['cells'] = [{'cell_type': 'nonsense'}]\n"
        "try:\n"
        "    nbformat.validate(bad)\n"
        "except nbformat.ValidationError:\n"
        "    print('invalid caught')\n"
        "print('lark' in sys.modules or 'arrow' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["invalid", "caught", "False"]
