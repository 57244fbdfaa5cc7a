"""Ledgers (台账): one item's submitted figures, unit by unit, with totals, rates and last year beside them.

Two views of one item and period under a union:
- `ledger`: one row per task of the subtree (unit, subject, state, dates, evidence count, each
  form field), then the totals of the item's measures;
- `figures`: the measures rolled up per child unit and for the whole subtree, with the same
  period of the year before — one GROUP BY over the path index, sums of the form fields
  read in SQL (JSON), rates divided from the summed parts at every level.

Measures count the approved (done) work: what is still waiting for approval is in the ledger's
rows, marked by its state, but not yet in the figures.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from sqlalchemy import and_, case, func, or_, select, true
from sqlalchemy.orm import Session

from duban.engine.access import permissions
from duban.engine.access.actors import Actor
from duban.engine.assess.scoring import _last_submission
from duban.engine.errors import InvalidInput, Problem
from duban.engine.glossary import label
from duban.engine.language.measures import Measure
from duban.engine.language.model import Definition
from duban.engine.org import tree
from duban.engine.overview.sheets_out import append_row, safe_title
from duban.engine.overview.tasks import SUBJECT_NAME, WITH_SUBJECT
from duban.engine.runtime import Runtime
from duban.engine.store.models import Assignment, Attachment, Person, Task, TaskState, Unit
from duban.engine.time.periods import Period, parse_period
from duban.engine.time.timeline import last_day
from duban.engine.work import catalog

tasks, units, assignments = Task.__table__, Unit.__table__, Assignment.__table__
attachments, people = Attachment.__table__, Person.__table__


def _period(label_: str | None, where: str) -> Period | None:
    if not label_:
        return None
    try:
        return parse_period(label_)
    except ValueError as exc:
        raise InvalidInput([Problem(where, "period", str(exc))]) from None


def _in_period(rt: Runtime, period: Period | None) -> Any:
    """Tasks of the period: its label where the task has one, else a due date inside it."""
    if period is None:
        return true()
    start = datetime.combine(period.start, time(0), rt.tz)
    end = datetime.combine(period.end + timedelta(days=1), time(0), rt.tz)
    return or_(
        tasks.c.period == period.label,
        and_(tasks.c.period == "", tasks.c.due_at >= start, tasks.c.due_at < end),
    )


def _year_before(period: Period | None) -> Period | None:
    if period is None:
        return None
    try:
        return parse_period(period.label.replace(str(period.start.year), str(period.start.year - 1), 1))
    except ValueError:
        return None  # an ISO week has no same week a year before worth comparing


def _aggregates(defn: Definition, now: datetime) -> list[Any]:
    # Only what the item's measures read: every column is a CASE (or a JSON read) per task of a province.
    done = tasks.c.state == TaskState.done.value
    counted = tasks.c.state.in_((TaskState.open.value, TaskState.submitted.value, TaskState.done.value))
    wanted = {"tasks"} | {m.count.value for m in defn.measures.values() if m.count is not None}
    wanted |= {
        p for m in defn.measures.values() if m.rate is not None for p in m.rate if p not in defn.measures
    }
    counts = {
        "tasks": counted,
        "done": done,
        "on_time": done & (tasks.c.finished_at <= tasks.c.overdue_at),
        "overdue": tasks.c.state.in_((TaskState.open.value, TaskState.submitted.value))
        & (tasks.c.overdue_at <= now),
    }
    cols = [func.sum(case((when, 1), else_=0)).label(f"c_{k}") for k, when in counts.items() if k in wanted]
    averaged = {m.avg for m in defn.measures.values() if m.avg}
    for name in sorted({m.field for m in defn.measures.values() if m.field}):
        value = tasks.c.form[name].as_float()
        cols.append(func.sum(case((done, value), else_=None)).label(f"s_{name}"))
        if name in averaged:
            cols.append(func.sum(case((done & value.is_not(None), 1), else_=0)).label(f"n_{name}"))
    return cols


def measure_values(defn: Definition, parts: dict[str, float]) -> dict[str, float | None]:
    """Each measure from the summed parts: counts, sums, averages, then rates from those."""
    out: dict[str, float | None] = {}
    counts = {k: parts.get(f"c_{k}", 0) for k in ("tasks", "done", "on_time", "overdue")}

    def plain(m: Measure) -> float | None:
        if m.count is not None:
            return counts[m.count.value]
        if m.sum is not None:
            return parts.get(f"s_{m.sum}") or 0
        n = parts.get(f"n_{m.avg}") or 0
        return (parts.get(f"s_{m.avg}") or 0) / n if n else None

    for name, m in defn.measures.items():
        if m.rate is None:
            out[name] = plain(m)
    for name, m in defn.measures.items():
        if m.rate is not None:
            num, den = (out[p] if p in out else counts[p] for p in m.rate)
            out[name] = round(100.0 * num / den, 1) if num is not None and den else None
    return {k: out[k] for k in defn.measures}


def _group(
    session: Session, rt: Runtime, defn: Definition, root: Unit, period: Period | None
) -> dict[str, Any]:
    prefix = func.substr(units.c.path, 1, len(root.path) + tree.SEGMENT).label("prefix")
    rows = session.execute(
        select(prefix, *_aggregates(defn, rt.now()))
        .select_from(
            tasks.join(units, units.c.id == tasks.c.unit_id).join(
                assignments, assignments.c.id == tasks.c.assignment_id
            )
        )
        .where(tree.in_subtree(root.path), assignments.c.def_id == defn.id, _in_period(rt, period))
        .group_by(prefix)
    )
    return {r.prefix: {k: float(v or 0) for k, v in r._mapping.items() if k != "prefix"} for r in rows}


def _sum(groups: list[dict[str, float]]) -> dict[str, float]:
    total: dict[str, float] = {}
    for g in groups:
        for k, v in g.items():
            total[k] = total.get(k, 0) + v
    return total


def figures(
    session: Session, rt: Runtime, actor: Actor, def_id: str, code: str, period_label: str | None = None
) -> dict[str, Any]:
    """The item's measures per child unit and for the whole subtree, this period and the year before."""
    return _figures(session, rt, *_subject(session, actor, def_id, code, period_label))


def _subject(
    session: Session, actor: Actor, def_id: str, code: str, period_label: str | None
) -> tuple[Unit, Definition, Period | None]:
    # The union (within the actor's sight), the item's newest version and the period: read once per view.
    root = tree.get_unit(session, code)
    permissions.require_sees(actor, root.path, root.code)
    defn = catalog.definition_of(catalog.latest_version(session, def_id))
    return root, defn, _period(period_label, def_id)


def _figures(
    session: Session, rt: Runtime, root: Unit, defn: Definition, period: Period | None
) -> dict[str, Any]:
    before = _year_before(period)
    now_groups = _group(session, rt, defn, root, period)
    last_groups = _group(session, rt, defn, root, before) if before else {}
    children = session.execute(
        select(units.c.code, units.c.name, units.c.level, units.c.path)
        .where(units.c.parent_id == root.id)
        .order_by(units.c.path)
    ).all()
    rows = []
    own = now_groups.get(root.path, {})
    if own.get("c_tasks"):
        rows.append(
            {
                "code": root.code,
                "name": root.name,
                "level": root.level,
                "own": True,
                "values": measure_values(defn, own),
            }
        )
    for child in children:
        parts = now_groups.get(child.path)
        if parts:
            rows.append(
                {
                    "code": child.code,
                    "name": child.name,
                    "level": child.level,
                    "own": False,
                    "values": measure_values(defn, parts),
                }
            )
    total = measure_values(defn, _sum(list(now_groups.values())))
    last = measure_values(defn, _sum(list(last_groups.values()))) if before else None
    return {
        "definition": {"id": defn.id, "title": defn.title},
        "unit": {"code": root.code, "name": root.name, "level": root.level},
        "period": period.label if period else None,
        "last_period": before.label if before else None,
        "measures": {
            k: {"label": m.label, "unit": m.unit, "rate": m.rate is not None}
            for k, m in defn.measures.items()
        },
        "rows": rows,
        "total": total,
        "last_year": last,
        "change": _change(total, last) if last is not None else None,
    }


def _change(now: dict[str, float | None], before: dict[str, float | None]) -> dict[str, float | None]:
    return {
        k: (round(v - before[k], 2) if v is not None and before.get(k) is not None else None)
        for k, v in now.items()
    }


def ledger(
    session: Session, rt: Runtime, actor: Actor, def_id: str, code: str, period_label: str | None = None
) -> dict[str, Any]:
    """One row per task of the item under `code` in the period, with the figures rolled up beside them."""
    root, defn, period = _subject(session, actor, def_id, code, period_label)
    summary = _figures(session, rt, root, defn, period)
    sub = _last_submission()
    files = select(attachments.c.task_id, func.count().label("n")).group_by(attachments.c.task_id).subquery()
    rows = session.execute(
        select(
            tasks.c.id,
            tasks.c.subject,
            tasks.c.period,
            tasks.c.state,
            tasks.c.due_at,
            tasks.c.finished_at,
            tasks.c.form,
            units.c.code,
            units.c.name,
            units.c.level,
            sub.c.at.label("submitted_at"),
            func.coalesce(files.c.n, 0).label("files"),
            SUBJECT_NAME.label("subject_name"),
        )
        .select_from(
            tasks.join(units, units.c.id == tasks.c.unit_id)
            .join(assignments, assignments.c.id == tasks.c.assignment_id)
            .outerjoin(sub, sub.c.task_id == tasks.c.id)
            .outerjoin(files, files.c.task_id == tasks.c.id)
            .outerjoin(people, WITH_SUBJECT)
        )
        .where(tree.in_subtree(root.path), assignments.c.def_id == def_id, _in_period(rt, period))
        .where(tasks.c.state != TaskState.cancelled.value)
        .order_by(units.c.path, tasks.c.period, tasks.c.subject)
    ).all()

    def day(instant: datetime | None) -> str | None:
        return rt.local(instant).date().isoformat() if instant is not None else None

    def due_day(instant: datetime) -> str:
        return last_day(rt.local(instant)).isoformat()

    return {
        **summary,
        "fields": {k: f.label or k for k, f in defn.completion.form.items()},
        "tasks": [
            {
                "task_id": r.id,
                "unit_code": r.code,
                "unit_name": r.name,
                "level": r.level,
                "subject": r.subject_name or r.subject,
                "period": r.period,
                "state": r.state,
                "due": due_day(r.due_at),
                "submitted": day(r.submitted_at),
                "finished": day(r.finished_at) if r.state == TaskState.done.value else None,
                "files": r.files,
                "form": r.form or {},
            }
            for r in rows
        ],
        "as_of": rt.local(rt.now()).isoformat(),
    }


def _fmt(value: float | None, rate: bool) -> Any:
    if value is None:
        return None
    return f"{value:g}%" if rate else (int(value) if float(value).is_integer() else round(value, 2))


def ledger_workbook(book: dict[str, Any], lang: str = "zh") -> bytes:
    """The ledger as the XLSX a county hands to the city: titled, dated, Chinese headers, totals, no formulas."""
    wb = Workbook()
    sheet = wb.active
    sheet.title = safe_title("台账" if lang == "zh" else "Ledger")
    title = f"{book['unit']['name']} {book['definition']['title']} 台账" + (
        f"（{book['period']}）" if book["period"] else ""
    )
    append_row(sheet, [title])
    sheet["A1"].font = Font(bold=True, size=14)
    append_row(sheet, [f"截至 {book['as_of'][:10]}；合计只计已审核通过（已完成）的任务"])
    fields = book["fields"]
    header = [
        "单位代码",
        "单位名称",
        "层级",
        "对象",
        "周期",
        "状态",
        "截止日期",
        "提交日期",
        "完成日期",
        "附件数",
        *fields.values(),
    ]
    append_row(sheet, header)
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    for t in book["tasks"]:
        append_row(
            sheet,
            [
                t["unit_code"],
                t["unit_name"],
                label(f"level.{t['level']}", lang),
                t["subject"],
                t["period"],
                label(f"state.{t['state']}", lang),
                t["due"],
                t["submitted"],
                t["finished"],
                t["files"],
                *(t["form"].get(k) for k in fields),
            ],
        )
    append_row(sheet, [])
    measures = book["measures"]
    for key, m in measures.items():
        unit = f"（{m['unit']}）" if m.get("unit") else ""
        last = book["last_year"][key] if book["last_year"] else None
        append_row(
            sheet,
            [
                "合计" if key == next(iter(measures)) else None,
                f"{m['label']}{unit}",
                _fmt(book["total"][key], m["rate"]),
                f"上年同期 {_fmt(last, m['rate'])}" if last is not None else None,
            ],
        )
    summary = wb.create_sheet(safe_title("汇总" if lang == "zh" else "Summary"))
    append_row(summary, [f"{book['unit']['name']} {book['definition']['title']} 分单位汇总"])
    summary["A1"].font = Font(bold=True, size=14)
    append_row(summary, ["单位代码", "单位名称", "层级", *(m["label"] for m in measures.values())])
    for r in book["rows"]:
        name = f"{r['name']}（本级）" if r["own"] else r["name"]
        append_row(
            summary,
            [
                r["code"],
                name,
                label(f"level.{r['level']}", lang),
                *(_fmt(r["values"][k], m["rate"]) for k, m in measures.items()),
            ],
        )
    append_row(
        summary, ["合计", None, None, *(_fmt(book["total"][k], m["rate"]) for k, m in measures.items())]
    )
    if book["last_year"] is not None:
        append_row(
            summary,
            [
                f"上年同期（{book['last_period']}）",
                None,
                None,
                *(_fmt(book["last_year"][k], m["rate"]) for k, m in measures.items()),
            ],
        )
    for ws in (sheet, summary):
        for col in ws.columns:
            ws.column_dimensions[col[0].column_letter].width = 14
        ws["A1"].alignment = Alignment(wrap_text=False)
    out = BytesIO()
    wb.save(out)
    return out.getvalue()
