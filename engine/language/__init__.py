"""The definition language: models, durations and the YAML loader."""
