from setuptools import setup

setup(name="drift", version="0.7.0", packages=["drift"])
