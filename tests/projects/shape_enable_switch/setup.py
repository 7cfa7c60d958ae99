import os

import setuptools

choice = os.environ.get("TALLY_INSTALL_EXTENSIONS")
disabled = choice is not None and choice.lower() == "false"

extension = setuptools.Extension("tally._speed", sources=["src/tally/_speed.c"], optional=True)
setuptools.setup(ext_modules=[] if disabled else [extension])
