"""Check the import contracts of pyproject.toml ([tool.importlinter]) against the installed layout.

The repository's folders (engine/, api/, ...) install as duban.engine, duban.api, ... through
setuptools' package-dir mapping, which import-linter cannot follow: it walks the folder of
`duban` and would find no engine there. So the mapped tree is laid out as installed, one
symlink per source file, in a temporary folder, and `lint-imports` runs there against this
checkout's pyproject.toml. Exit status: lint-imports' own (0 kept, 1 broken).

    python scripts/lint_imports.py [--root CHECKOUT]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path


def stage(root: Path, into: Path) -> None:
    """Lay the checkout's package folders out as installed (duban/, duban/engine/, ...) under `into`."""
    mapping = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-dir"
    ]
    for package, folder in mapping.items():
        target = into.joinpath(*package.split("."))
        source = root / folder
        for path in source.rglob("*.py"):
            rel = path.relative_to(source)
            # A subfolder that is itself mapped (none today) is staged by its own entry.
            link = target / rel
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to(path.resolve())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    root = args.root.resolve()
    lint = Path(sys.executable).with_name("lint-imports")
    with tempfile.TemporaryDirectory(prefix="duban-imports-") as tmp:
        stage(root, Path(tmp))
        env = {**os.environ, "PYTHONPATH": tmp}
        cmd = [str(lint), "--no-cache", "--no-logo", str(root / "pyproject.toml")]
        return subprocess.run(cmd, cwd=tmp, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
