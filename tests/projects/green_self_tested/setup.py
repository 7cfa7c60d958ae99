from setuptools import Extension, setup

setup(ext_modules=[Extension("both._fast", ["both/_fast.c"])])
