"""Driver script that only lets Krita start once (warms a fresh profile's resource cache)."""


def main(ctx):
    yield 500
    return 0
