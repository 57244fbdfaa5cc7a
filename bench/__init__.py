"""`duban bench`: each hot path measured against a bare baseline in the same run (see DESIGN.md, Performance).

`world` builds the tree and what the measures share, one module per measure holds its figure
(`fanout`, `sweep_idle`, `sweep_due`, ..., `http`, `prefect_flow`), `report` formats them and
`run` puts them in order.
"""

from duban.bench.run import MEASURES, run_bench
from duban.bench.tree import province_csv, tree_shape
from duban.bench.world import BenchOptions

__all__ = ["MEASURES", "BenchOptions", "province_csv", "run_bench", "tree_shape"]
