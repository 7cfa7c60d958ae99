from setuptools import setup

setup(
    name="gale",
    version="1.4.dev0",
    packages=["gale"],
)
