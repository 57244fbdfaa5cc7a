"""Where the shipped seed plan lives: the YAML definitions installed as `duban.definitions`."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def seed_definitions() -> Path:
    """The folder of the seed plan's definitions, in a checkout or an installed wheel alike."""
    return Path(str(files("duban.definitions")))


def seed_plans() -> Path:
    """The folder of the seed's three plans (one per document of the seed)."""
    return seed_definitions() / "plans"
