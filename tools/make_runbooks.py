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

# Phases that push the tag or upload a file first check the record for a
# successful test and build of the tagged commit (releaselib.phases.gates).
ALLOW_UNTESTED = "allow_untested = False  # True: push/upload without a successful 01_test and 05_build (recorded)"


def md(text: str):
    return new_markdown_cell(text.strip())


def code(text: str):
    return new_code_cell(text.strip())


def notebook(phase: str, title: str, why: str, imports: str, steps: list, extra_params: str = ""):
    params = new_code_cell((PARAMS + ("\n" + extra_params.strip() if extra_params else "")).strip())
    params.metadata["tags"] = ["parameters"]
    number = phase.split("_", 1)[0]
    cells = [
        md(f"# {number} · {title}\n\n{why.strip()}\n\n"
           "To run this phase by hand: `releaselib open PHASE VERSION` fills in the parameters cell below "
           "(the only place parameters are set); keep `dry_run = True` for a first look, run the cells, "
           "then set `dry_run = False` there and run them again to do it for real.\n\n"
           "An italic *Seed step N* quotes step N of the release checklist this project automates "
           "(PyMongo's release notes, numbered 1 to 12; see the README)."),
        params,
        md("Open the release: this validates the parameters and reads the project's "
           "`[tool.releaselib]` configuration. Nothing changes here."),
        code(f"{imports}\n\nrelease = start({phase!r}, version, repo=repo, dry_run=dry_run, outputs=outputs)\nrelease"),
        *steps,
        md("## Save and archive (when run by hand)\n\n"
           "Stepping through this phase in JupyterLab? When the last cell above has run, save the notebook "
           f"(**Ctrl+S**), close its tab, and run `releaselib archive {phase[3:]} VERSION` in the project: "
           "until then the record does not know the phase ran. A headless run (`releaselib run`) archives "
           "itself; nothing to do."),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["releaselib"] = {"phase": phase}
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"{number}-{index:02d}"
    nb.cells[-1]["id"] = f"{number}-archive"  # `releaselib open` puts the exact command here
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
        "from releaselib.phases import preflight\nfrom releaselib import start",
        [
            md("## Where we start\n\nThe commit we release from and the last release before it, kept in the record."),
            code('release.record("start", preflight.summary(release))'),
            md("## The checks\n\nEvery check runs even when one fails, so one run shows everything to fix. "
               "A `✘ problem` row says what is wrong and what to do."),
            code("report = preflight.run_checks(release, phases)\nreport"),
            code('release.record("checks", {r.name: r.ok for r in report.results})\nreport.raise_for_problems()'),
            md("## The plan\n\nWhat the phases will do, computed from the repository as it is now. "
               "A real run executes exactly these actions."),
            code("for plan in preflight.release_plan(release, phases):\n    display(plan)"),
        ],
        extra_params='phases = "all"     # the phases of this run, comma-separated (the runner fills it in)',
    ),
    "00a_api": notebook(
        "00a_api",
        "The public API and the compatibility policy",
        """
*From the seed's release notes: changes are backwards compatible; an API
that is to go first gets a deprecation warning while it keeps working, and
is removed only after about four releases. Bug-fix releases (2.1.1) carry no
new features, no API changes and no deprecations.*

This phase reads the project's public API (what it exports: `__all__`, or the
names without a leading underscore in public modules) at the commit being
released and at the last release tag, without importing anything, and lists
every difference: names added, removed, deprecated, and signatures changed.
Then it applies the policy, in plain words:

- **A bug-fix release** (only the last number moves) adds nothing, removes
  nothing and deprecates nothing. New things wait for the next minor release.
- **A name may go** only when it warned (`DeprecationWarning`) in at least four
  earlier releases, so users had time to move. A signature change that breaks
  existing calls (a parameter removed, moved or made required) is a removal.
- **A major release** (the first number moves) may break things; the list
  below is what broke, for the release notes.

Any exception must be written down: a waiver in `[tool.releaselib.api]` with
the object and a reason. It is kept in the record with the release.
""",
        "from releaselib.phases import api\nfrom releaselib import start",
        [
            md("## What changed since the last release\n\nEach row is one public name. The verdict column says "
               "why a removal is allowed (deprecated since which release) or which rule refuses it.\n\n"
               "Below the changes, the deprecation ledger: for each earlier release, the names that warned. "
               "Each release's entry is computed once and kept in `outputs/<package>/api-ledger/`."),
            code("report = api.check_release(release)\nreport"),
            md("## For the record\n\nThe changes, the ledger and any waiver (with its reason) go into the release record; "
               "`releaselib review` shows the summary line."),
            code('recorded = release.record("api", report.as_record())'),
            md("## Verdict\n\nA refused change stops the release here, before anything was changed. "
               "Each refusal says what to do: deprecate first, release as a minor or major version, "
               "or add a waiver with a reason."),
            code("report.raise_for_violations()"),
        ],
    ),
    "01_test": notebook(
        "01_test",
        "Test on every Python",
        """
*Seed step 1: test the release on every supported Python, with and without
the C extension; run the doctests.*

Each cell of the matrix (interpreter × extension) gets its own fresh virtual
environment, installs the project from the commit being released, and first
proves the extension is loaded, or absent, as intended: a "with extension"
cell that silently fell back to pure Python is a failure, not a pass. Then it
runs the test suite and the doctests. Cells run in parallel, each with a
timeout; the full output of each is in `logs/`, the table below is the summary.
""",
        "from releaselib.phases import matrix\nfrom releaselib import start",
        [
            md("## The matrix\n\nInterpreters come from `[tool.releaselib.matrix] python`, found on PATH or in pyenv."),
            code("result = matrix.run_matrix(release)\nresult"),
            md("## Verdict\n\nAny failed cell stops the release here, naming the interpreter and its log."),
            code("result.raise_for_failures()"),
        ],
    ),
    "02_changelog": notebook(
        "02_changelog",
        "Release notes",
        """
*Seed step 2: add release notes to `doc/changelog.rst`; generally just
summarize/clarify the git log, but add long-form notes for big changes.*

If the changelog already has a section for this version (a maintainer wrote
it), it is kept exactly as it is; a placeholder date in its heading
(`XXXX/XX/XX`, `Unreleased`, `TBD`) becomes today's. Otherwise a section is
drafted from the git log since the last release (merges and automated
dependency bumps left out), in the file's own heading style, at the top.
Then the release's section is validated, so broken markup never reaches the
published docs; when it is not valid the file is put back as it was.

A drafted section has not been read by anyone: a headless run stops after
writing it, so the maintainer can edit it and resume, unless the run says
`-p accept_draft=true` (recorded).
""",
        "from releaselib.phases import changelog\nfrom releaselib import start",
        [
            md("## The section for this version\n\nKept as is if present (its date completed), else drafted."),
            code("plan = release.execute(changelog.plan_changelog(release))"),
            md("## Validate\n\nOnly the release's section; reStructuredText is parsed with docutils; an error names its line."),
            code("notes = changelog.finish_changelog(release, plan, accept_draft=accept_draft)\nprint(notes)"),
            code('release.record("accept_draft", accept_draft)\nrelease.record("changelog_section", notes)'),
        ],
        extra_params="accept_draft = False # release a section drafted from the git log without stopping to read it",
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
        "from releaselib.phases import bump\nfrom releaselib import start",
        [
            md("## The version now"),
            code('release.record("previous_version", bump.version_before_bump(release))'),
            md("## Replace it\n\nEach row is one replacement: a file can have several (a version file holds "
               "both the version string and the version tuple). A re-run finds the work done and skips it."),
            code("plan = release.execute(bump.plan_release_bump(release))\nplan"),
            code('release.record("files_changed", bump.bumped_paths(release, plan))'),
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
        "from releaselib.infra import git\nfrom releaselib.phases import commit\nfrom releaselib import start",
        [
            md("## Commit `BUMP <version>` and tag it"),
            code("release.execute(commit.plan_commit_and_tag(release))"),
            md("## What was made\n\nThe commit and the tag, for the record (none in a dry run)."),
            code('release.record("tag", release.tag)\n'
                 'release.record("bump_commit", None if release.dry_run else git.commit_of(release.repo, release.tag))'),
        ],
    ),
    "05_build": notebook(
        "05_build",
        "Build and check the files",
        """
*Seed steps 8 and 9: the source distribution, and a binary for each version
of Python and platform; "probably best to build first, to make sure it builds
properly".*

Everything is built from the tagged commit in a clean export, never from a
working tree that may hold stray files: the sdist, then one wheel per
configured Python (repaired to a manylinux tag), plus any wheels built on other
platforms' CI runners and dropped in the wheelhouse. Every file passes
`twine check --strict`, and every file is installed into a fresh environment
and tested on its Python. A failure stops the release here, before anything
has left this machine: the tag exists only locally.
""",
        "from releaselib.phases import build\nfrom releaselib import start",
        [
            md("## Build, repair, check, install and test"),
            code("result = build.build_release(release)\nresult"),
            md("## The files, for the record\n\nName, size and sha256 of each: the publish phase uploads exactly these."),
            code('release.record("files", [artifact.as_record() for artifact in result.artifacts])\n'
                 'release.record("build", result.as_record())'),
        ],
    ),
    "06_publish": notebook(
        "06_publish",
        "Push and upload",
        """
*Seed steps 7, 8 and 9: push the commit and the tag; upload the source and
the binaries to the package index.*

The branch and the tag go to the remote in one atomic push: both or neither.
Then every built file is uploaded. A file the index already holds with the
same sha256 is skipped, so a re-run after a failure finishes the job without
uploading anything twice; a file of the same name with a different hash stops
the release (an index never accepts a filename twice). Finally the release is
proved from the outside: installed by name from that index alone, imported,
and compared byte for byte with what was built.
""",
        "from releaselib.phases import build, commit, publish\nfrom releaselib import start",
        [
            md("## Push the branch and the tag\n\nNo tag leaves the machine untested: the first action "
               "checks the record for a successful `01_test` and `05_build` of the tagged commit, and refuses "
               "otherwise (`allow_untested = True` overrides it; the record keeps the override)."),
            code("release.execute(commit.plan_push(release, allow_untested))"),
            md("## Upload every file\n\nCredentials come from the environment only; they are never shown."),
            code('artifacts = build.recorded_artifacts(release)\n'
                 'release.execute(publish.plan_upload(release, artifacts, allow_untested))'),
            md("## Install it from the index, as a user would"),
            code("verified = publish.verify_release(release, artifacts)\nverified"),
            code('release.record("files", [artifact.as_record() for artifact in artifacts])\n'
                 'release.record("verified", verified.as_record() if verified is not None else None)'),
        ],
        extra_params=ALLOW_UNTESTED,
    ),
    "07_docs": notebook(
        "07_docs",
        "Check the published docs",
        """
*Seed step 10: make sure the docs have properly updated.*

The docs builder rebuilds the site after the push. This phase polls the
configured page until it shows the new version, and records what it saw. A
timeout fails the phase with the URL and what the page showed instead.
""",
        "from releaselib.phases import docs\nfrom releaselib import start",
        [
            md("## Wait for the new version"),
            code('seen = docs.wait_for_docs(release)\nrelease.record("docs", seen.as_record())\nseen'),
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
        "from releaselib.infra import git\nfrom releaselib.phases import bump, commit, gates\nfrom releaselib import start",
        [
            md("## Tested and built?\n\nThis phase pushes the release tag (if the publish phase has not). "
               "No tag leaves the machine untested: the record must hold a successful `01_test` and "
               "`05_build` of the tagged commit, checked here before anything changes."),
            code('release.execute(gates.plan_tested(release, what="push the tag", allow_untested=allow_untested))'),
            md("## The next version\n\nComputed from the release unless `next_version` is set."),
            code("next_version = bump.next_version(release, next_version)\n"
                 'release.record("next_version", next_version)'),
            md("Write it into the version files. Only these files change; the commit below takes exactly them."),
            code("release.execute(bump.plan_next_dev(release, next_version))"),
            md("## Commit and push"),
            code("release.execute(commit.plan_post_release_commit(release, next_version, allow_untested))"),
            code('release.record("post_release_commit", None if release.dry_run else git.head_commit(release.repo))'),
        ],
        extra_params="next_version = None # override the next development version (e.g. \"3.0.dev0\")\n"
        + ALLOW_UNTESTED,
    ),
}


RUNBOOKS["09_announce"] = notebook(
    "09_announce",
    "Announce",
    """
*Seed step 12: announce!*

The announcement is rendered from a template: the version, this version's
section of the changelog, the install command and the links. Its Message-ID is
recorded before it is sent, so a resumed release never mails the list twice.
In a dry run the message is only written to the record (`announcement.eml`).
""",
    "from releaselib.phases import announce\nfrom releaselib import start",
    [
        md("## The message"),
        code('announcement = announce.render_announcement(release)\nrelease.record("message_id", announcement.message_id)\nannouncement'),
        md("## Send it\n\nThe SMTP password comes from the environment only."),
        code("release.execute(announce.plan_announcement(release, announcement, resend=resend))"),
        code('release.record("sent_message_id", None if release.dry_run else announcement.message_id)\n'
             'announce.write_preview(release, announcement)'),
    ],
    extra_params="resend = False      # True: send again after an attempt interrupted while sending (check the list archive first)",
)
RUNBOOKS = dict(sorted(RUNBOOKS.items()))


def main() -> None:
    HERE.mkdir(exist_ok=True)
    for name, nb in RUNBOOKS.items():
        nbformat.validate(nb)
        nbformat.write(nb, HERE / f"{name}.ipynb")
        print("wrote", HERE / f"{name}.ipynb")


if __name__ == "__main__":
    main()
