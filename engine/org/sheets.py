"""Reading tabular input files (CSV or XLSX) into rows that remember their line.

A header names every column that holds a value: a blank header cell above data (a
merged cell in Excel), an unknown name or a name given twice refuses the file. A CSV
is UTF-8 (with or without BOM) or GB18030/GBK, Excel's default on Chinese Windows.
An XLSX is a zip: its members' unpacked sizes are checked before it is opened, so a
small file that unpacks to gigabytes is refused at once.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from duban.engine.errors import ImportRefused, Problem

MAX_ROWS = 3_000_000
MAX_XLSX_UNPACKED = 50 * 1024 * 1024
# The marker that clears a value; a blank cell leaves the stored value as it is.
EMPTY = "-"


@dataclass(frozen=True)
class Row:
    """One data row: its 1-based line in the file (the header is line 1) and its cells.

    `cells` holds the file's columns only: a column the file lacks is absent, so an
    import can leave what it was not given untouched.
    """

    line: int
    cells: dict[str, str]


def read_rows(path: Path, required: list[str], optional: list[str]) -> list[Row]:
    """Read a CSV or XLSX file; refuse a bad header, naming the column."""
    name = str(path)
    if not path.is_file():
        raise ImportRefused([Problem(name, "", "no such file")])
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        header, rows = _xlsx(path)
    elif suffix in (".csv", ".txt", ""):
        header, rows = _csv(path)
    else:
        raise ImportRefused([Problem(name, "", f"unsupported file type {suffix!r}; use .csv or .xlsx")])
    header = [h.strip().lower() for h in header]
    problems = _header_problems(name, header, required, optional)
    if problems:
        raise ImportRefused(problems)
    out = []
    blank_used: set[int] = set()
    for line, values in rows:
        if len(out) >= MAX_ROWS:
            raise ImportRefused([Problem(name, "", f"more than {MAX_ROWS} rows; split the file")])
        if not any(v.strip() for v in values):
            continue
        blank_used.update(
            i for i, v in enumerate(values) if v.strip() and (i >= len(header) or not header[i])
        )
        cells = {h: (values[i].strip() if i < len(values) else "") for i, h in enumerate(header) if h}
        out.append(Row(line, cells))
    if blank_used:
        raise ImportRefused(
            [
                Problem(
                    f"{name}:1",
                    f"column {_letter(i)}",
                    "has no header but holds values (a merged header cell?); "
                    f"name it ({', '.join(required + optional)}) or delete the column",
                )
                for i in sorted(blank_used)
            ]
        )
    return out


def _header_problems(name: str, header: list[str], required: list[str], optional: list[str]) -> list[Problem]:
    where = f"{name}:1"
    problems = [Problem(where, c, "required column is missing") for c in required if c not in header]
    seen: set[str] = set()
    for i, h in enumerate(header):
        if not h:
            continue
        if h not in required and h not in optional:
            problems.append(
                Problem(
                    where,
                    f"column {_letter(i)}",
                    f"unknown column {h!r}; the columns are {', '.join(required + optional)}",
                )
            )
        elif h in seen:
            problems.append(Problem(where, f"column {_letter(i)}", f"{h} is given twice"))
        seen.add(h)
    return problems


def _letter(index: int) -> str:
    """A column as a spreadsheet names it: 0 -> A, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        # The encoding that read further is the file's; its error is the byte to fix.
        at = max(utf8_error.start, exc.start)
        line = data[:at].count(b"\n") + 1
        raise ImportRefused(
            [
                Problem(
                    f"{path}:{line}",
                    "",
                    f"neither UTF-8 nor GB18030/GBK text (byte 0x{data[at]:02X}); "
                    'save it from Excel as "CSV UTF-8 (逗号分隔)" and import again',
                )
            ]
        ) from None


def _csv(path: Path) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    reader = csv.reader(io.StringIO(_decode(path)))
    header = next(reader, [])

    def rows() -> Iterator[tuple[int, list[str]]]:
        for values in reader:
            yield reader.line_num, values

    return header, rows()


def _check_unpacked_size(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportRefused([Problem(str(path), "", f"not a readable XLSX file ({exc})")]) from exc
    # zipfile stops a member at its declared size, so the declared sizes bound what openpyxl reads.
    if unpacked > MAX_XLSX_UNPACKED:
        raise ImportRefused(
            [
                Problem(
                    str(path),
                    "",
                    f"the XLSX unpacks to {unpacked // (1024 * 1024)} MB, more than "
                    f"{MAX_XLSX_UNPACKED // (1024 * 1024)} MB; split it or save it as CSV",
                )
            ]
        )


def _xlsx(path: Path) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    from openpyxl import load_workbook

    _check_unpacked_size(path)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ImportRefused([Problem(str(path), "", f"not a readable XLSX file ({exc})")]) from exc
    sheet = book.worksheets[0]
    it = sheet.iter_rows(values_only=True)
    header = [_cell(v) for v in next(it, ())]

    def rows() -> Iterator[tuple[int, list[str]]]:
        for number, values in enumerate(it, start=2):
            yield number, [_cell(v) for v in values]

    return header, rows()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "date") and hasattr(value, "hour"):
        return value.date().isoformat()  # type: ignore[union-attr]
    return str(value)
