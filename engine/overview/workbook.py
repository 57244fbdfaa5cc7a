"""The workbooks handed to a leader: a report or a task list as an XLSX file, in words, not keys.

One builder for the web page, the API and `duban report --xlsx`, so the file is the same
wherever it comes from: a title, the as-of time, Chinese headers (English on request),
level names and item titles instead of codes and slugs, and a totals row. Every cell
is a value, never a formula — text that looks like one (a unit named "=1+1") stays text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from duban.engine.glossary import label
from duban.engine.overview.sheets_out import append_row, safe_title
from duban.engine.time.timeline import last_day

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

WORDS: dict[str, tuple[str, str]] = {
    "report_title": ("{name}进度总览", "{name}: progress overview"),
    "as_of": ("统计截至", "As of"),
    "item": ("任务项", "Item"),
    "all_items": ("全部任务项", "All items"),
    "code": ("单位代码", "Unit code"),
    "name": ("单位名称", "Unit"),
    "level": ("层级", "Level"),
    "tasks": ("任务数", "Tasks"),
    "done": ("已完成", "Done"),
    "submitted": ("待审核", "Awaiting approval"),
    "open": ("待办理", "Open"),
    "overdue": ("已逾期", "Overdue"),
    "escalated": ("已督办", "Escalated"),
    "waived": ("已免除", "Waived"),
    "cancelled": ("已撤销", "Cancelled"),
    "late": ("逾期完成", "Done late"),
    "done_pct": ("完成率（%）", "Done (%)"),
    "on_time_pct": ("按时完成率（%）", "On time (%)"),
    "progress": ("完成进度", "Progress"),
    "target": ("目标", "Target"),
    "own": ("本级", "Own tasks"),
    "total": ("合计", "Total"),
    "children_sheet": ("下级单位", "Child units"),
    "items_sheet": ("分项统计", "By item"),
    "matrix_sheet": ("单位×任务项完成率", "Done % by unit and item"),
    "matrix_note": ("单元格为完成率（%），空白为无此项任务", "Cells are done %; blank: no such task"),
    "list_title": ("{name}任务清单", "{name}: task list"),
    "list_sheet": ("任务清单", "Tasks"),
    "filters": ("筛选条件", "Filters"),
    "no": ("序号", "No."),
    "period": ("周期", "Period"),
    "subject": ("事项对象", "Subject"),
    "state": ("状态", "State"),
    "due": ("截止日期", "Due"),
    "is_overdue": ("是否逾期", "Overdue"),
    "escalation": ("督办级别", "Escalation level"),
    "yes": ("是", "yes"),
    "count_line": ("共 {n} 项任务", "{n} tasks"),
    "truncated": ("（仅导出前 {n} 项）", " (the first {n} exported)"),
}

MEASURES = (
    "tasks",
    "done",
    "submitted",
    "open",
    "overdue",
    "escalated",
    "late",
    "waived",
    "cancelled",
    "done_pct",
    "on_time_pct",
    "progress",
    "target",
)


def word(key: str, lang: str) -> str:
    """A workbook word in `lang`."""
    zh, en = WORDS[key]
    return en if lang == "en" else zh


def as_of_text(as_of: str) -> str:
    """The report's instant as the local minute it was taken at."""
    return datetime.fromisoformat(as_of).strftime("%Y-%m-%d %H:%M")


def _append(sheet: Worksheet, row: Sequence[Any], *, bold: bool = False) -> None:
    # Numbers stay numbers; everything else is text, through the one safe writer (never a formula).
    append_row(sheet, [v if v is None or isinstance(v, (int, float)) else str(v) for v in row])
    if bold:
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)


def _heading(sheet: Worksheet, title: str, lines: Iterable[str], width: int) -> None:
    _append(sheet, [title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(width, 1))
    sheet["A1"].alignment = Alignment(horizontal="center")
    for line in lines:
        _append(sheet, [line])
    _append(sheet, [])


def _widths(sheet: Worksheet, widths: Sequence[int]) -> None:
    for i, w in enumerate(widths):
        sheet.column_dimensions[get_column_letter(i + 1)].width = w


def _measures(row: dict[str, Any]) -> list[Any]:
    return [row[m] for m in MEASURES]


def rollup_workbook(report: dict[str, Any], lang: str = "zh") -> bytes:
    """A roll-up report (engine/overview/reports.py) as a workbook: children, items, and the matrix."""
    unit = report["unit"]
    titles = {d["definition_id"]: d["title"] for d in report["definitions"]}
    item = titles.get(report["definition"] or "", report["definition"]) or word("all_items", lang)
    lines = [f"{word('as_of', lang)}：{as_of_text(report['as_of'])}", f"{word('item', lang)}：{item}"]
    title = word("report_title", lang).format(name=unit["name"])
    book = Workbook()

    sheet = book.active
    sheet.title = safe_title(word("children_sheet", lang))
    head = [word(k, lang) for k in ("code", "name", "level", *MEASURES)]
    _heading(sheet, title, lines, len(head))
    _append(sheet, head, bold=True)
    for r in report["children"]:
        _append(sheet, [r["code"], r["name"], label(f"level.{r['level']}", lang), *_measures(r)])
    if report["own"] is not None:
        _append(
            sheet, [unit["code"], f"{unit['name']}（{word('own', lang)}）", "", *_measures(report["own"])]
        )
    _append(sheet, [word("total", lang), "", "", *_measures(report["total"])], bold=True)
    _widths(sheet, [12, 30, 12, *[10] * len(MEASURES)])
    sheet.freeze_panes = sheet.cell(row=len(lines) + 4, column=3)

    items = book.create_sheet(safe_title(word("items_sheet", lang)))
    head = [word("item", lang), *[word(k, lang) for k in MEASURES]]
    _heading(items, title, lines, len(head))
    _append(items, head, bold=True)
    for d in report["definitions"]:
        _append(items, [d["title"], *_measures(d)])
    _append(items, [word("total", lang), *_measures(report["total"])], bold=True)
    _widths(items, [40, *[10] * len(MEASURES)])

    matrix = book.create_sheet(safe_title(word("matrix_sheet", lang)))
    defs = [d["definition_id"] for d in report["definitions"]]
    head = [word("code", lang), word("name", lang), *[titles[d] for d in defs]]
    _heading(matrix, title, [*lines, word("matrix_note", lang)], len(head))
    _append(matrix, head, bold=True)
    names = {r["code"]: r["name"] for r in report["children"]}
    for m in report["matrix"]:
        cells = m["cells"]
        _append(matrix, [m["code"], names[m["code"]], *[(cells.get(d) or {}).get("done_pct") for d in defs]])
    _append(matrix, [word("total", lang), "", *[d["done_pct"] for d in report["definitions"]]], bold=True)
    _widths(matrix, [12, 30, *[16] * len(defs)])
    return _save(book)


TASK_COLUMNS = (
    "no",
    "code",
    "name",
    "item",
    "period",
    "subject",
    "state",
    "due",
    "is_overdue",
    "escalation",
    "progress",
    "target",
)


def _task_row(i: int, t: dict[str, Any], now: datetime, lang: str) -> list[Any]:
    unfinished = t["state"] in ("open", "submitted")
    overdue = unfinished and datetime.fromisoformat(t["overdue_at"]) <= now
    return [
        i,
        t["unit_code"],
        t.get("unit_name") or "",
        t.get("title") or t["definition_id"],
        t.get("period") or "",
        t.get("subject_name") or t.get("subject") or "",
        label(f"state.{t['state']}", lang),
        last_day(datetime.fromisoformat(t["due_at"])).isoformat(),
        word("yes", lang) if overdue else "",
        t["escalation_level"] or None,
        t["progress"] if t.get("target") is not None or t["progress"] else None,
        t.get("target"),
    ]


def tasks_workbook(
    items: list[dict[str, Any]],
    *,
    unit_name: str,
    filters: list[str],
    total: int,
    now: datetime,
    lang: str = "zh",
) -> bytes:
    """A task list (engine/overview/tasks.py rows, as filtered on the page) as a workbook.

    `filters` are the list's conditions in words; `total` is how many tasks matched (more than
    `items` when the export was capped). The totals row counts the rows by state.
    """
    title = word("list_title", lang).format(name=unit_name)
    shown = word("count_line", lang).format(n=total)
    if total > len(items):
        shown += word("truncated", lang).format(n=len(items))
    lines = [
        f"{word('as_of', lang)}：{now.strftime('%Y-%m-%d %H:%M')}",
        f"{word('filters', lang)}：{'；'.join(filters) or word('all_items', lang)}",
        shown,
    ]
    book = Workbook()
    sheet = book.active
    sheet.title = safe_title(word("list_sheet", lang))
    _heading(sheet, title, lines, len(TASK_COLUMNS))
    _append(sheet, [word(k, lang) for k in TASK_COLUMNS], bold=True)
    rows = [_task_row(i, t, now, lang) for i, t in enumerate(items, 1)]
    for row in rows:
        _append(sheet, row)
    by_state: dict[str, int] = {}
    for t in items:
        by_state[t["state"]] = by_state.get(t["state"], 0) + 1
    summary = "，".join(f"{label(f'state.{s}', lang)} {n}" for s, n in sorted(by_state.items()))
    overdue = sum(1 for r in rows if r[8])
    _append(
        sheet,
        [word("total", lang), len(items), "", summary, "", "", "", "", overdue, None, None, None],
        bold=True,
    )
    _widths(sheet, [6, 12, 28, 36, 10, 14, 10, 12, 8, 8, 8, 8])
    sheet.freeze_panes = sheet.cell(row=len(lines) + 4, column=1)
    return _save(book)


def _save(book: Workbook) -> bytes:
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()
