"""Write the runbooks in ``runbooks/`` from the cell lists below.

The notebooks are the product; this script only keeps their common parts
(title, parameters cell, start cell) identical across phases. Edit a phase
here, run ``python tools/make_runbooks.py``, and commit both.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent.parent / "runbooks"

PARAMS = '''version = None      # the release version, a string: "2.2" (never 2.2 unquoted)
repo = "."          # the project to release
dry_run = True      # True: show what would change, change nothing
outputs = None      # where records go (default: ./outputs)'''


def md(text: str):
    return new_markdown_cell(text.strip())


def code(text: str):
    return new_code_cell(text.strip())


def notebook(phase: str, title: str, why: str, imports: str, steps: list, extra_params: str = ""):
    params = new_code_cell((PARAMS + ("\n" + extra_params.strip() if extra_params else "")).strip())
    params.metadata["tags"] = ["parameters"]
    cells = [
        md(f"# {phase[:2]} · {title}\n\n{why.strip()}\n\n"
           "To run this phase by hand: set `version` in the parameters cell below, keep "
           "`dry_run = True` for a first look, then *Run All*. Set `dry_run = False` to do it for real."),
        params,
        md("Open the release: this validates the parameters and reads the project's "
           "`[tool.releaselib]` configuration. Nothing changes here."),
        code(f"{imports}\n\nrelease = start({phase!r}, version, repo=repo, dry_run=dry_run, outputs=outputs)\nrelease"),
        *steps,
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["releaselib"] = {"phase": phase}
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"{phase[:2]}-{index:02d}"
    return nb


RUNBOOKS = {
    "00_preflight": notebook(
        "00_preflight",
        "Preflight",
        """
Every later phase changes something: the repository, its remote, the package
index, a mailing list. This phase changes nothing. It checks, all at once,
everything that would make a release stop half-way: the version is valid and
newer than the last release, the tag is free here and on the remote, the tree
is clean, we are on the release branch and in sync with the remote, the
credentials are present (never shown) and the interpreters can be found. Then
it prints the plan: what each phase will do.
""",
        "from releaselib import preflight, start",
        [
            md("## Where we start\n\nThe commit we release from and the last release before it, kept in the record."),
            code('release.record("start", preflight.summary(release))'),
            md("## The checks\n\nEvery check runs even when one fails, so one run shows everything to fix. "
               "A ❌ row says what is wrong and what to do."),
            code("report = preflight.run_checks(release, phases)\nreport"),
            code('release.record("checks", {r.name: r.ok for r in report.results})\nreport.raise_for_problems()'),
            md("## The plan\n\nWhat the phases will do, computed from the repository as it is now. "
               "A real run executes exactly these actions."),
            code("for plan in preflight.release_plan(release, phases):\n    display(plan)"),
        ],
        extra_params='phases = "all"     # the phases of this run, comma-separated (the runner fills it in)',
    ),
    "02_changelog": notebook(
        "02_changelog",
        "Release notes",
        """
*Seed step 2: add release notes to `doc/changelog.rst`; generally just
summarize/clarify the git log, but add long-form notes for big changes.*

If the changelog already has a section for this version (a maintainer wrote
it), it is kept exactly as it is. Otherwise a section is drafted from the git
log since the last release, in the file's own heading style, at the top. Then
the file is validated, so broken markup never reaches the published docs.
""",
        "from releaselib import changelog, start",
        [
            md("## The section for this version\n\nKept as is if present, else drafted."),
            code("release.execute(changelog.plan_changelog(release))"),
            md("## Validate\n\nreStructuredText is parsed with docutils; an error names its line."),
            code("notes = changelog.release_notes(release)\nrelease.record(\"changelog_section\", notes)\nprint(notes)"),
        ],
    ),
    "03_bump": notebook(
        "03_bump",
        "Set the release version",
        """
*Seed steps 3 and 4: search and replace the "+" version number with the new
version number; make sure the version is updated in `setup.py` and the
package.*

Between releases the version under development reads like `2.1+` (in version
files, the buildable form `2.1+dev`). Here every exact occurrence of it in the
docs and sources becomes the release version, and every version file gets the
release version. Only that exact version is replaced: `Python 2.5+` or a
minimum server version such as `1.3.3+` stay as they are.
""",
        "from releaselib import bump, start",
        [
            md("## The version now"),
            code('release.record("previous_version", bump.read_current_version(release.config))'),
            md("## Replace it\n\nEach row is one file; a re-run finds the work done and skips it."),
            code("plan = release.execute(bump.plan_release_bump(release))\nplan"),
            code('release.record("files_changed", bump.changed_paths(plan))'),
        ],
    ),
    "04_commit_tag": notebook(
        "04_commit_tag",
        "Commit and tag",
        """
*Seed steps 5 and 6: commit with a `BUMP version_number` message; tag with
the version number.*

The commit holds exactly the version edits and the changelog section; the tag
is annotated and points at it. Nothing is pushed yet: the build phase first
proves that this commit builds and passes its tests, so a failed build never
leaves a pushed tag behind.
""",
        "from releaselib import commit, git, start",
        [
            md("## Commit `BUMP <version>` and tag it"),
            code("release.execute(commit.plan_commit_and_tag(release))"),
            md("## What was made\n\nThe commit and the tag, for the record (none in a dry run)."),
            code('release.record("tag", release.tag)\n'
                 'release.record("bump_commit", None if release.dry_run else git.commit_of(release.repo, release.tag))'),
        ],
    ),
    "08_post_release": notebook(
        "08_post_release",
        "Next development version",
        """
*Seed step 11: add a "+" to the version number, commit, push.*

From now on the tree says it is past the release: `2.2+` (in version files
the buildable `2.2+dev`), or `2.3.dev0` with the dev scheme. The commit is
pushed together with the release tag (already on the remote if the publish
phase ran; then only the branch moves).
""",
        "from releaselib import bump, commit, git, start",
        [
            md("## The next version\n\nComputed from the release unless `next_version` is set."),
            code("next_version = bump.next_version(release, next_version)\n"
                 'release.record("next_version", next_version)'),
            code("release.execute(bump.plan_next_dev(release, next_version))"),
            md("## Commit and push"),
            code("release.execute(commit.plan_post_release_commit(release, next_version))"),
            code('release.record("post_release_commit", None if release.dry_run else git.head_commit(release.repo))'),
        ],
        extra_params="next_version = None # override the next development version (e.g. \"3.0.dev0\")",
    ),
}


def main() -> None:
    HERE.mkdir(exist_ok=True)
    for name, nb in RUNBOOKS.items():
        nbformat.validate(nb)
        nbformat.write(nb, HERE / f"{name}.ipynb")
        print("wrote", HERE / f"{name}.ipynb")


if __name__ == "__main__":
    main()
