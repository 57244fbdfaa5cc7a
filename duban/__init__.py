"""duban 督办: assign a union work plan down the org tree, follow it up, see it through.

The installed package maps the repository's top-level folders: `engine/` is
`duban.engine`, `api/` is `duban.api`, `cli/` is `duban.cli`, `flows/` is
`duban.flows`, `bench/` is `duban.bench`, and the seed plan in `definitions/` ships as
`duban.definitions`.
"""

__version__ = "0.1.0"
