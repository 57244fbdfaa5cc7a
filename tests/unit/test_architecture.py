"""The layers stay visible: the import contracts hold (and would catch a breach), and the engine never reads
the wall clock."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]
ENGINE = ROOT / "engine"
LINT = [sys.executable, str(ROOT / "scripts" / "lint_imports.py")]


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LINT, "--root", str(root)], capture_output=True, text=True, timeout=300)


def test_the_import_contracts_hold() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def test_the_contracts_name_the_engine_wings_and_the_frameworks() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    forbidden, layers = config["contracts"]
    assert forbidden["source_modules"] == ["duban.engine"]
    assert {
        "duban.api",
        "duban.flows",
        "duban.cli",
        "duban.bench",
        "fastapi",
        "prefect",
        "apscheduler",
    } <= set(forbidden["forbidden_modules"])
    wings = {p.name for p in ENGINE.iterdir() if p.is_dir() and (p / "__init__.py").exists()} | {"periodic"}
    assert {w.strip() for layer in layers["layers"] for w in layer.split("|")} == wings


def test_a_breach_fails_the_check(tmp_path: Path) -> None:
    """A copy of the checkout with two bad imports: the engine reaching the API, a lower wing a higher one."""
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-dir"
    ]
    for folder in set(mapping.values()):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    store = tmp_path / "engine" / "store" / "audit.py"
    store.write_text(store.read_text(encoding="utf-8") + "\nfrom duban.engine.work import fanout  # noqa\n")
    periodic = tmp_path / "engine" / "periodic.py"
    periodic.write_text(periodic.read_text(encoding="utf-8") + "\nimport fastapi  # noqa\n")
    result = _lint(tmp_path)
    assert result.returncode == 1
    assert "Contracts: 0 kept, 2 broken." in result.stdout
    assert "duban.engine.store.audit -> duban.engine.work.fanout" in result.stdout
    assert "duban.engine.periodic -> fastapi" in result.stdout


def test_engine_reads_time_only_through_the_clock() -> None:
    # import-linter sees modules, not calls: reading the wall clock is this scan's to catch.
    wall = re.compile(r"datetime\.(now|utcnow|today)\(|date\.today\(|time\.time\(")
    hits = [
        f"{path.relative_to(ENGINE)}:{n}"
        for path in ENGINE.rglob("*.py")
        if path.name != "clock.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if wall.search(line)
    ]
    assert hits == []
