"""Stored upload names tell the truth, and only Office files pass among zips."""

from __future__ import annotations

import dataclasses
import io
import zipfile

import pytest
from openpyxl import Workbook

from duban.engine.errors import InvalidInput
from duban.engine.work.attachments import store_file

PDF = b"%PDF-1.4\n" + b"0" * 100
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def zipped(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def rt(replay):  # type: ignore[no-untyped-def]
    return dataclasses.replace(replay.rt, max_upload_bytes=1024 * 1024)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\me\\scan.pdf", "scan.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.pdf"),
        ("report.exe", "report.pdf"),
        ("报告\x1b[31m.pdf", "报告[31m.pdf"),
        ("", "file.pdf"),
    ],
)
def test_a_stored_name_has_no_folders_no_bidi_and_the_extension_of_its_content(
    rt, given: str, stored: str
) -> None:  # type: ignore[no-untyped-def]
    assert store_file(rt, io.BytesIO(PDF), given).filename == stored


def test_office_files_pass_even_when_their_parts_come_late(rt) -> None:  # type: ignore[no-untyped-def]
    book = Workbook()
    buffer = io.BytesIO()
    book.save(buffer)
    assert store_file(rt, io.BytesIO(buffer.getvalue()), "表.xlsx").content_type.endswith(
        "spreadsheetml.sheet"
    )
    # The content types first and a large part before word/: the first bytes alone do not tell.
    late = zipped(
        {"[Content_Types].xml": b"<Types/>", "docProps/big.bin": b"\0" * 20000, "word/document.xml": b"<w/>"}
    )
    stored = store_file(rt, io.BytesIO(late), "总结.docx")
    assert (stored.content_type, stored.filename) == (DOCX, "总结.docx")


@pytest.mark.parametrize(
    "entries",
    [
        {"evil.exe": b"MZ" + b"\0" * 100},
        {"[Content_Types].xml": b"<Types/>", "payload/run.sh": b"#!/bin/sh"},
    ],
)
def test_any_other_zip_is_refused(rt, entries: dict[str, bytes]) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match="zip archive is not allowed"):
        store_file(rt, io.BytesIO(zipped(entries)), "photos.docx")
