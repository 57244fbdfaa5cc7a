"""Worlds the tests of more than one folder build alike, imported as `tests.support.…`
(not through a conftest: test folders are imported each on its own)."""
