from setuptools import setup

from beacon import __version__

setup(name="beacon", version=__version__, packages=["beacon"])
