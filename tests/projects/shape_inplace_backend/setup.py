import os

import setuptools

generated = os.path.join("ringbuf", "_fast.c")
extensions = [setuptools.Extension("ringbuf._fast", [generated])] if os.path.exists(generated) else []
setuptools.setup(ext_modules=extensions)
