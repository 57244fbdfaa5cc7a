"""Uploads that engine services read from a file path: copied to a private temp file, never by the user's name."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath

from fastapi import UploadFile

from duban.engine.errors import InvalidInput, Problem

SUFFIXES = {".csv", ".xlsx", ".xlsm", ".txt"}


@contextmanager
def as_temp_file(upload: UploadFile, max_bytes: int) -> Iterator[Path]:
    """The upload as a temp file whose suffix (only) comes from the given name; problems name the upload."""
    shown = PurePath(upload.filename or "upload.csv").name
    suffix = PurePath(shown).suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInput(
            [Problem(shown, "", f"unsupported file type {suffix or '(none)'!r}; use .csv or .xlsx")]
        )
    with tempfile.TemporaryDirectory(prefix="duban-upload-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        with path.open("wb") as out:
            shutil.copyfileobj(upload.file, out)
        if path.stat().st_size > max_bytes:
            raise InvalidInput([Problem(shown, "size", f"larger than {max_bytes // (1024 * 1024)} MB")])
        try:
            yield path
        except InvalidInput as exc:
            for p in exc.problems:
                p.where = p.where.replace(str(path), shown)
            exc.message = "\n".join(str(p) for p in exc.problems)
            raise
