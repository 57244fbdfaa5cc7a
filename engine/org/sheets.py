"""Reading tabular input files (CSV or XLSX) into rows that remember their line."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from duban.engine.errors import ImportRefused, Problem

MAX_ROWS = 3_000_000


@dataclass(frozen=True)
class Row:
    """One data row: its 1-based line in the file (the header is line 1) and its cells."""

    line: int
    cells: dict[str, str]


def read_rows(path: Path, required: list[str], optional: list[str]) -> list[Row]:
    """Read a CSV (UTF-8, with or without BOM) or XLSX file; refuse a bad header."""
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
    missing = [c for c in required if c not in header]
    unknown = [c for c in header if c and c not in required and c not in optional]
    problems = [Problem(f"{name}:1", c, "required column is missing") for c in missing]
    problems += [Problem(f"{name}:1", c, "unknown column") for c in unknown]
    if problems:
        raise ImportRefused(problems)
    out = []
    for line, values in rows:
        if len(out) >= MAX_ROWS:
            raise ImportRefused([Problem(name, "", f"more than {MAX_ROWS} rows")])
        if not any(v.strip() for v in values):
            continue
        cells = {h: (values[i].strip() if i < len(values) else "") for i, h in enumerate(header) if h}
        out.append(Row(line, cells))
    return out


def _csv(path: Path) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRefused(
            [Problem(str(path), "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]
        ) from exc
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])

    def rows() -> Iterator[tuple[int, list[str]]]:
        for values in reader:
            yield reader.line_num, values

    return header, rows()


def _xlsx(path: Path) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    from openpyxl import load_workbook

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
