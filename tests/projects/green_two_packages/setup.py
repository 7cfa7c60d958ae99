import os

from setuptools import Extension, setup

no_ext = os.environ.get("ALPHABETA_NO_EXT") == "1"
setup(ext_modules=[] if no_ext else [Extension("alpha._core", ["alpha/_core.c"])])
