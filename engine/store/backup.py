"""Backing the database up to one file and restoring it: SQLite's online backup, PostgreSQL's pg_dump.

SQLite copies page by page through its backup API, from a consistent snapshot, while the
server and the sweep keep running (WAL readers never wait). PostgreSQL is dumped with
`pg_dump --format=custom` (a consistent snapshot too) and restored with `pg_restore --clean
--single-transaction`, so a failed restore leaves the database as it was.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import Engine, MetaData, func, inspect, select

from duban.engine.errors import Conflict, DubanError, NotFound
from duban.engine.store.db import is_sqlite


class BackupFailed(DubanError):
    """A backup or restore tool failed; what it said is in the message."""

    status = 500
    title = "Backup failed"


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per table, for a report after a backup or a restore and for comparing the two."""
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in meta.sorted_tables
        }


def _libpq_url(engine: Engine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _run(tool: str, *args: str) -> None:
    path = shutil.which(tool)
    if path is None:
        raise BackupFailed(f"{tool} is not installed (Debian: apt-get install postgresql-client)")
    done = subprocess.run([path, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise BackupFailed(f"{tool} failed: {said[-1] if said else f'exit {done.returncode}'}")


def backup_database(engine: Engine, target: Path, *, overwrite: bool = False) -> dict[str, int]:
    """Write the whole database to `target`; the rows per table it holds."""
    if target.exists() and not overwrite:
        raise Conflict(f"{target} exists; choose another file or pass --force")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    if is_sqlite(engine):
        raw = engine.raw_connection()
        try:
            with sqlite3.connect(partial) as out:
                raw.driver_connection.backup(out)  # type: ignore[union-attr]
            out.close()
        finally:
            raw.close()
    else:
        _run("pg_dump", "--format=custom", "--no-owner", "--file", str(partial), _libpq_url(engine))
    # Renamed only once complete: a crash mid-backup never leaves a file that looks whole.
    partial.replace(target)
    return row_counts(engine)


def restore_database(engine: Engine, source: Path, *, overwrite: bool = False) -> dict[str, int]:
    """Replace the database's contents with the backup in `source`; the rows per table it now holds."""
    if not source.is_file():
        raise NotFound(f"backup {source} not found")
    if not overwrite and "alembic_version" in inspect(engine).get_table_names():
        raise Conflict("the database already holds duban data; pass --force to replace it with the backup")
    if is_sqlite(engine):
        raw = engine.raw_connection()
        try:
            with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as backup:
                backup.backup(raw.driver_connection)  # type: ignore[arg-type]
            backup.close()
        except sqlite3.DatabaseError as exc:
            raise BackupFailed(f"{source} is not a SQLite backup: {exc}") from None
        finally:
            raw.close()
    else:
        _run(
            "pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
            "--dbname", _libpq_url(engine), str(source),
        )  # fmt: skip
    engine.dispose()
    return row_counts(engine)
