"""The wheel: one top-level name, `duban`, with the seed plan inside, found where an installed duban looks."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy of the tracked files, so the build leaves nothing in the checkout and reads nothing ignored.
    src = tmp_path_factory.mktemp("src")
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, tracked):
        rel = Path(name.decode())
        if (ROOT / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, src / rel)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-q", "-w", str(out)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("duban-*.whl")
    return built


@pytest.mark.slow
def test_the_wheel_installs_one_name_and_carries_the_seed(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"duban"}

    def shipped_in(folder: str) -> set[str]:
        return {
            n.removeprefix(folder)
            for n in names
            if n.startswith(folder) and n.endswith(".yaml") and "/" not in n.removeprefix(folder)
        }

    shipped = shipped_in("duban/definitions/")
    assert shipped == {p.name for p in (ROOT / "definitions").glob("*.yaml")}
    assert len(shipped) > 10
    plans = shipped_in("duban/definitions/plans/")
    assert plans == {p.name for p in (ROOT / "definitions" / "plans").glob("*.yaml")} and len(plans) == 3
    for part in ("engine/store/migrations/env.py", "api/templates", "bench/run.py", "cli/main.py", "flows"):
        assert any(n.startswith(f"duban/{part}") for n in names), part


@pytest.mark.slow
def test_an_installed_duban_finds_its_seed_plan(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    # The unpacked wheel first on the path: `duban` is imported from it, not from this checkout.
    code = (
        "import duban, sys; from duban.seed import seed_definitions; "
        "print(duban.__file__); print(seed_definitions())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    module, seed = result.stdout.split()
    assert Path(module).is_relative_to(site)
    assert Path(seed) == site / "duban" / "definitions"
    assert len(list(Path(seed).glob("*.yaml"))) == len(list((ROOT / "definitions").glob("*.yaml")))
