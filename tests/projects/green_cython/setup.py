import os

from setuptools import Extension, setup

# cyt/_fast.c is generated from cyt/_fast.pyx by the pre-build step (`cython -3 cyt/_fast.pyx`); it is not in git.
no_ext = os.environ.get("CYT_NO_EXT") == "1"
setup(ext_modules=[] if no_ext else [Extension("cyt._fast", ["cyt/_fast.c"])])
