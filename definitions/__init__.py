"""The seed plan's definitions (YAML), shipped inside the package: `duban definitions path` prints where."""
