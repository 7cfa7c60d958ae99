from setuptools import setup

import shim

setup(
    name="shim",
    version=shim.__version__,
    description="One module that smooths over differences between Python versions",
    py_modules=["shim"],
)
