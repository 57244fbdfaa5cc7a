"""`duban bench`: each hot path measured against a bare baseline in the same run (see DESIGN.md, Performance)."""

from engine.bench.core import MEASURES, BenchHandle, BenchOptions, measurement, run_bench
from engine.bench.tree import province_csv, tree_shape

__all__ = ["MEASURES", "BenchHandle", "BenchOptions", "measurement", "province_csv", "run_bench", "tree_shape"]
