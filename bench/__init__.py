"""`duban bench`: each hot path measured against a bare baseline in the same run (see DESIGN.md, Performance)."""

from duban.bench.core import MEASURES, BenchHandle, BenchOptions, measurement, run_bench
from duban.bench.tree import province_csv, tree_shape

__all__ = [
    "MEASURES",
    "BenchHandle",
    "BenchOptions",
    "measurement",
    "province_csv",
    "run_bench",
    "tree_shape",
]
