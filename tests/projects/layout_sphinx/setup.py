from setuptools import setup

setup(
    name="gale",
    version="1.3.1.dev0",
    packages=["gale"],
)
