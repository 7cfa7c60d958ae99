"""The runbooks shipped with releaselib (installed as ``releaselib.runbooks``)."""
