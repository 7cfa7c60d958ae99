import greeting


def test_greet():
    assert greeting.greet("you") == "Hello, you!"
