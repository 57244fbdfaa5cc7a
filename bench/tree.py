"""A province-shaped org tree as a units CSV: 1 province, 21 cities, ~120 counties, ~1,600 townships, grassroots."""

from __future__ import annotations

import csv
from pathlib import Path

PROVINCE = "GD"


def tree_shape(units: int) -> dict[str, int]:
    """How many units of each level a tree of `units` units has (smaller trees shrink the upper levels)."""
    if units < 10:
        raise ValueError("a bench tree needs at least 10 units")
    townships = min(1600, max(2, units // 8))
    counties = min(120, max(1, townships // 13))
    cities = min(21, counties)
    grassroots = units - 1 - cities - counties - townships
    return {
        "provincial": 1,
        "municipal": cities,
        "county": counties,
        "township": townships,
        "grassroots": grassroots,
    }


def province_csv(path: Path, units: int) -> dict[str, int]:
    """Write the tree as a CSV importable by `duban units import`; returns the shape."""
    shape = tree_shape(units)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["code", "name", "parent_code", "level", "tags", "attrs"])
        w.writerow([PROVINCE, "省总工会", "", "provincial", "", ""])
        cities = [f"{PROVINCE}-C{i:02d}" for i in range(shape["municipal"])]
        for i, code in enumerate(cities):
            w.writerow([code, f"市总工会{i}", PROVINCE, "municipal", "", ""])
        counties = [f"{PROVINCE}-K{i:03d}" for i in range(shape["county"])]
        for i, code in enumerate(counties):
            w.writerow([code, f"县总工会{i}", cities[i % len(cities)], "county", "", ""])
        towns = [f"{PROVINCE}-T{i:04d}" for i in range(shape["township"])]
        for i, code in enumerate(towns):
            w.writerow([code, f"乡镇工会{i}", counties[i % len(counties)], "township", "", ""])
        tags = ("enterprise;non_public", "institution", "community", "enterprise")
        for i in range(shape["grassroots"]):
            w.writerow(
                [
                    f"{PROVINCE}-G{i:07d}",
                    f"基层工会{i}",
                    towns[i % len(towns)],
                    "grassroots",
                    tags[i % len(tags)],
                    f'{{"members": {20 + i % 400}}}',
                ]
            )
    return shape
