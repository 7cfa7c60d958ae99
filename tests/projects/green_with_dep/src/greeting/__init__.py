"""Greetings, as text whatever the Python."""

import six

__version__ = "1.0.dev0"


def greet(name):
    return six.ensure_text("Hello, %s!" % name)
