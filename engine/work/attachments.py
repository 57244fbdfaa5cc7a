"""Evidence files: checked by content, capped in size, stored content-addressed.

A file lives at DATA_DIR/files/ab/cd/<sha256>; the name a user gave is kept only
as a label in the database and is never used as a path. An upload is first staged
under DATA_DIR/files/.incoming and enters the store only when it is attached to a
task, so a refused submission leaves the store as it was.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import filetype
from sqlalchemy import insert
from sqlalchemy.orm import Session

from duban.engine.access.actors import Actor
from duban.engine.errors import InvalidInput, Problem
from duban.engine.runtime import Runtime
from duban.engine.store import audit
from duban.engine.store.models import Attachment

# What evidence may be: documents and pictures, recognised by their first bytes.
ALLOWED = {
    "application/pdf",
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
# The extension a stored name ends with, per detected type (the first is the one given when the
# name's own does not match what the content is).
EXTENSIONS = {
    "application/pdf": (".pdf",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (".xlsx",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (".pptx",),
}
# An Office file is a zip whose parts live under one of these folders; any other zip is refused.
OFFICE_PARTS = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
# Controls and the bidi marks that make "gpj.exe" read as "exe.jpg".
UNSHOWN = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredFile:
    """An upload that passed its checks, staged until it is attached to a task."""

    sha256: str
    size: int
    content_type: str
    filename: str
    label: str | None = None
    staged: Path | None = None


def blob_path(data_dir: Path, sha256: str) -> Path:
    """Where the file with this digest lives."""
    return data_dir / "files" / sha256[:2] / sha256[2:4] / sha256


def store_file(rt: Runtime, stream: BinaryIO, filename: str, label: str | None = None) -> StoredFile:
    """Stage an upload (refusing it if too large or of a type not allowed)."""
    where = f"file {UNSHOWN.sub('', Path(filename).name) or '?'}"
    incoming = rt.data_dir / "files" / ".incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    fd, tmp_name = tempfile.mkstemp(dir=incoming, prefix="upload-")
    staged = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as tmp:
            head = b""
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > rt.max_upload_bytes:
                    raise InvalidInput(
                        [Problem(where, "size", f"larger than {rt.max_upload_bytes // (1024 * 1024)} MB")]
                    )
                if len(head) < 8192:
                    head += chunk[: 8192 - len(head)]
                digest.update(chunk)
                tmp.write(chunk)
        if size == 0:
            raise InvalidInput([Problem(where, "size", "the file is empty")])
        mime = content_type(head, staged)
        if mime not in ALLOWED:
            raise InvalidInput(
                [Problem(where, "type", f"{mime} is not allowed; send PDF, images or Office files")]
            )
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return StoredFile(digest.hexdigest(), size, mime, stored_name(filename, mime), label, staged)


def content_type(head: bytes, path: Path) -> str:
    """The type the content is (not what its name says); a zip is an Office file only if its parts say so."""
    kind = filetype.guess(head)
    if kind is None:
        return "unrecognised content"
    if kind.mime in ALLOWED or (kind.extension != "zip" and kind.mime != "application/zip"):
        return kind.mime
    return _office_type(path) or "a zip archive"


def _office_type(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    for folder, mime in OFFICE_PARTS.items():
        if any(n.startswith(folder) for n in names):
            return mime
    return None


def stored_name(filename: str, mime: str) -> str:
    """The name kept as the file's label: no folders, no control or bidi characters, the extension of its type."""
    base = unicodedata.normalize("NFC", filename).replace("\\", "/").rsplit("/", 1)[-1]
    base = UNSHOWN.sub("", base).strip(" .") or "file"
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    wanted = EXTENSIONS.get(mime, ())
    if wanted and f".{ext.lower()}" not in wanted:
        return f"{stem[: 255 - len(wanted[0])]}{wanted[0]}"
    return base[:255]


def store_files(rt: Runtime, uploads: list[tuple[BinaryIO, str, str | None]]) -> list[StoredFile]:
    """Stage several uploads: all of them, or (when one is refused) none."""
    staged: list[StoredFile] = []
    try:
        for stream, filename, label in uploads:
            staged.append(store_file(rt, stream, filename, label))
    except BaseException:
        discard(staged)
        raise
    return staged


def discard(files: list[StoredFile]) -> None:
    """Remove staged uploads that were not attached (a no-op for attached ones)."""
    for f in files:
        if f.staged is not None:
            f.staged.unlink(missing_ok=True)


def attach_files(session: Session, rt: Runtime, actor: Actor, task_id: int, files: list[StoredFile]) -> None:
    """Record staged files as a task's evidence and move them into the store."""
    if not files:
        return
    for f in files:
        target = blob_path(rt.data_dir, f.sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        if f.staged is not None and f.staged.exists():
            # Same content, same name: an existing blob is already this file.
            os.replace(f.staged, target)
    now: datetime = rt.now()
    session.execute(
        insert(Attachment.__table__),
        [
            {
                "task_id": task_id,
                "sha256": f.sha256,
                "size": f.size,
                "content_type": f.content_type,
                "filename": f.filename,
                "label": f.label,
                "uploaded_by": actor.name,
                "created_at": now,
            }
            for f in files
        ],
    )
    audit.record(
        session,
        now,
        actor.name,
        "task.files_attached",
        task_id=task_id,
        payload={"files": [{"sha256": f.sha256, "name": f.filename, "label": f.label} for f in files]},
    )
