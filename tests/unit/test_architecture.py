"""The layers stay visible: the domain imports no framework and no adapter, and never reads the wall clock."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ENGINE = Path(__file__).parents[2] / "engine"
FORBIDDEN = {"fastapi", "starlette", "prefect", "apscheduler", "api", "flows", "cli", "bench", "uvicorn"}


def _root(module: str) -> str:
    # duban's own layers are named by their second part: duban.api, duban.flows, ...
    parts = module.split(".")
    return parts[1] if parts[0] == "duban" and len(parts) > 1 else parts[0]


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(_root(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(_root(node.module))
    return roots


def test_engine_imports_no_framework_or_adapter() -> None:
    offenders = {
        str(path.relative_to(ENGINE)): sorted(imported_roots(path) & FORBIDDEN)
        for path in ENGINE.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_engine_reads_time_only_through_the_clock() -> None:
    wall = re.compile(r"datetime\.(now|utcnow|today)\(|date\.today\(|time\.time\(")
    hits = [
        f"{path.relative_to(ENGINE)}:{n}"
        for path in ENGINE.rglob("*.py")
        if path.name != "clock.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if wall.search(line)
    ]
    assert hits == []


def test_the_scan_would_catch_an_offender(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from fastapi import FastAPI\nimport prefect.flows\nfrom duban.api import app\n", encoding="utf-8")
    assert imported_roots(bad) & FORBIDDEN == {"fastapi", "prefect", "api"}
