from importlib.metadata import version

import cinder


def test_the_installed_version_is_the_tag():
    assert cinder.__name__ == "cinder"
    assert version("cinder") == "1.5.0"
