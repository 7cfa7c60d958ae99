"""Build bsonlite, with its C extension unless BSONLITE_NO_EXT=1.

The metadata lives in pyproject.toml; this file only decides whether the
extension exists. Without the switch the extension is required: a compiler
error fails the build instead of quietly shipping the pure-Python fallback.
"""

import os

from setuptools import Extension, setup

if os.environ.get("BSONLITE_NO_EXT") == "1":
    ext_modules = []
else:
    ext_modules = [
        Extension(
            "bsonlite._cbson",
            sources=["src/bsonlite/_cbson.c"],
            optional=False,
        )
    ]

setup(ext_modules=ext_modules)
