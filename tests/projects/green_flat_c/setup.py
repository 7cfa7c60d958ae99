import os

from setuptools import Extension, setup

# FLATC_NO_EXT=1 builds the pure-Python package only; otherwise the extension is required.
no_ext = os.environ.get("FLATC_NO_EXT") == "1"
setup(ext_modules=[] if no_ext else [Extension("flatc._fast", ["flatc/_fast.c"])])
