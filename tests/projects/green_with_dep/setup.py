import os

from setuptools import Extension, setup

# GREETING_NO_EXT=1 builds the pure package only.
no_ext = os.environ.get("GREETING_NO_EXT") == "1"
setup(ext_modules=[] if no_ext else [Extension("greeting._speed", ["src/greeting/_speed.c"])])
