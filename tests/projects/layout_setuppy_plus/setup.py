import os
from distutils.core import setup, Extension

ext = [] if os.environ.get("QUILL_NO_EXT") else [Extension("quill._speedups", ["quill/_speedups.c"])]

setup(
    name="quill",
    version="2.1+",
    packages=["quill"],
    ext_modules=ext,
    classifiers=[
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.12",
    ],
)
