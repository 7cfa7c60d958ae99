"""Greetings, as text whatever the Python; shouting in C when built."""

import six

__version__ = "1.0.dev0"


def greet(name):
    return six.ensure_text("Hello, %s!" % name)


try:
    from greeting._speed import shout
    HAVE_C = True
except ImportError:
    HAVE_C = False

    def shout(text):
        return six.ensure_text(text).upper() + "!"
