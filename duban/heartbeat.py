"""The embedded scheduler's last runs, kept in a small file beside the data so every server process can read them.

`duban serve --workers N` runs the scheduler in the parent process only, while the workers
answer /readyz: the parent writes one JSON file per job (`<data_dir>/scheduler/<job>.json`,
replaced atomically), and any process reads it.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

JOBS = ("sweep", "delivery")


def _folder(data_dir: Path) -> Path:
    return Path(data_dir) / "scheduler"


def record(data_dir: Path, job: str, at: datetime, counts: dict[str, Any]) -> None:
    """Keep the last run of `job`: when (the scheduler's clock), by which process, and its counts."""
    folder = _folder(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"at": at.isoformat(), "pid": os.getpid(), "counts": counts}
    tmp = folder / f".{job}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(doc, default=str), encoding="utf-8")
    tmp.replace(folder / f"{job}.json")


def last_runs(data_dir: Path) -> dict[str, Any]:
    """Each job's last run, or None when no scheduler has run it here."""
    runs: dict[str, Any] = {}
    for job in JOBS:
        path = _folder(data_dir) / f"{job}.json"
        try:
            runs[job] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            runs[job] = None
    return runs
