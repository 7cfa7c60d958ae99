import sys

from setuptools import Extension, setup

# `pip install --config-settings=--build-option=--without-ext .` builds the pure package only.
WITHOUT = "--without-ext"
no_ext = WITHOUT in sys.argv
while WITHOUT in sys.argv:
    sys.argv.remove(WITHOUT)
setup(ext_modules=[] if no_ext else [Extension("srcset._fast", ["src/srcset/_fast.c"])])
