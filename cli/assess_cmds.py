"""考核 and 台账 at the command line: schemes, assessments (show, close, reopen, bonus) and ledgers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from duban.cli.context import BY, JSON, acting, ctx_of, emit_json, refusals, shown
from duban.engine.access.actors import OPERATOR
from duban.engine.glossary import label

out = Console()
schemes_app = typer.Typer(help="Scoring schemes (考核细则).", no_args_is_help=True)
assess_app = typer.Typer(help="Assessments (考核): scores, ranking, closing a year.", no_args_is_help=True)
UNIT = typer.Option(..., "--unit", help="The assessing union: its subtree is assessed.")


def register(app: typer.Typer) -> None:
    app.add_typer(schemes_app, name="schemes")
    app.add_typer(assess_app, name="assess")
    app.command("ledger")(ledger)


@schemes_app.command("check")
@refusals
def schemes_check(paths: list[Path] = typer.Argument(..., help="Scheme files or folders.")) -> None:
    """Validate scoring schemes; store nothing."""
    from duban.engine.assess.scheme import load_scheme_paths

    loaded = load_scheme_paths(paths)
    out.print(f"{len(loaded)} scheme(s) valid")


@schemes_app.command("load")
@refusals
def schemes_load(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Scheme files or folders."),
    json: bool = JSON,
) -> None:
    """Validate all, then store each changed scheme as its next version (all or nothing)."""
    from duban.engine.assess.scheme import load_scheme_paths
    from duban.engine.assess.versions import store_schemes

    c = ctx_of(ctx)
    loaded = load_scheme_paths(paths)
    with c.write() as s:
        stored = store_schemes(s, c.runtime.now(), OPERATOR, loaded)
    if json:
        emit_json(stored)
        return
    for item in stored:
        out.print(f"{shown(item['id'])}: version {item['version']} ({item['status']})")


@schemes_app.command("list")
@refusals
def schemes_list(ctx: typer.Context, json: bool = JSON) -> None:
    """The newest version of every scheme."""
    from duban.engine.assess.versions import list_schemes

    with ctx_of(ctx).read() as s:
        rows = list_schemes(s)
    if json:
        emit_json(rows)
        return
    table = Table("id", "year", "version", "title")
    for r in rows:
        table.add_row(shown(r["id"]), str(r["year"]), str(r["version"]), shown(r["title"]))
    out.print(table)


@assess_app.command("show")
@refusals
def assess_show(
    ctx: typer.Context,
    scheme: str = typer.Argument(..., help="The scheme id."),
    unit: str = UNIT,
    level: str = typer.Option(None, "--level", help="Only this level's ranking (e.g. township, grassroots)."),
    card: str = typer.Option(
        None, "--card", help="One unit's score card: every item and what it cost or earned."
    ),
    by: str = BY,
    json: bool = JSON,
) -> None:
    """Scores and ranking of the units below a union; frozen once the year is closed."""
    from duban.engine.assess import assessment

    c = ctx_of(ctx)
    if card:
        with c.read() as s:
            doc = assessment.card(s, c.runtime, acting(s, by), scheme, unit, card)
        row = doc["card"] if doc else None
        if json:
            emit_json(row)
            return
        _card(row) if row else out.print(f"{shown(card)}: no scored tasks under this scheme")
        return
    with c.read() as s:
        result = assessment.assess(s, c.runtime, acting(s, by), scheme, unit)
    if level:
        result["levels"] = {k: v for k, v in result["levels"].items() if k == level}
    if json:
        emit_json(result)
        return
    state = "已关闭（结果已冻结）" if result["closed"] else "进行中（随任务实时变化）"
    out.print(f"{shown(result['scheme']['title'])} — {shown(result['unit']['name'])}，{state}")
    for lvl, rows in result["levels"].items():
        table = Table(
            "排名", "单位", "得分", "满分", "加分", "折合得分", title=f"{label('level.' + lvl)}单位排名"
        )
        for r in rows:
            table.add_row(
                str(r["rank"]),
                f"{shown(r['name'])} ({shown(r['code'])})",
                f"{r['score']:g}",
                f"{r['points']:g}",
                f"{r['bonus']:g}",
                f"{r['normalized']:g}",
            )
        out.print(table)


def _card(row: dict[str, Any]) -> None:
    table = Table(
        "事项",
        "分值",
        "任务",
        "完成",
        "逾期交",
        "逾期未交",
        "退回",
        "完成分",
        "质量分",
        "扣分",
        "得分",
        title=f"{shown(row['name'])} 考核得分：{row['score']:g} / {row['points']:g}，加分 {row['bonus']:g}",
    )
    for i in row["items"]:
        cut = sum(d["points"] for d in i["deductions"])
        table.add_row(
            shown(i["title"]),
            f"{i['points']:g}",
            str(i["tasks"]),
            str(i["done"]),
            str(i["late"]),
            str(i["missing"]),
            str(i["rejections"]),
            f"{i['completion']:g}",
            f"{i['quality']:g}",
            f"{cut:g}",
            f"{i['score']:g}",
        )
    out.print(table)
    for b in row["bonuses"]:
        out.print(f"加分：{shown(b['label'])} +{b['points']:g}（{shown(b['reason'])}）")


@assess_app.command("close")
@refusals
def assess_close(
    ctx: typer.Context, scheme: str = typer.Argument(...), unit: str = UNIT, by: str = BY, json: bool = JSON
) -> None:
    """Freeze the year's assessment as it stands; later changes no longer move it."""
    from duban.engine.assess.assessment import close_assessment

    c = ctx_of(ctx)
    with c.write() as s:
        result = close_assessment(s, c.runtime, acting(s, by), scheme, unit)
    emit_json(result) if json else out.print(
        f"closed: {result['units']} units' scores frozen for {result['year']}"
    )


@assess_app.command("reopen")
@refusals
def assess_reopen(
    ctx: typer.Context,
    scheme: str = typer.Argument(...),
    unit: str = UNIT,
    reason: str = typer.Option(..., "--reason", help="Why (kept in the audit log)."),
    by: str = BY,
    json: bool = JSON,
) -> None:
    """Open a closed assessment again (audited)."""
    from duban.engine.assess.assessment import reopen_assessment

    c = ctx_of(ctx)
    with c.write() as s:
        result = reopen_assessment(s, c.runtime, acting(s, by), scheme, unit, reason)
    emit_json(result) if json else out.print(
        f"reopened: the {result['year']} assessment follows the tasks again"
    )


@assess_app.command("bonus")
@refusals
def assess_bonus(
    ctx: typer.Context,
    scheme: str = typer.Argument(...),
    unit: str = UNIT,
    to: str = typer.Option(..., "--to", help="The unit that earns the bonus."),
    bonus: str = typer.Option(..., "--bonus", help="The scheme's bonus item id."),
    points: float = typer.Option(..., "--points", help="Points, within the item's maximum."),
    reason: str = typer.Option(..., "--reason", help="What it is for."),
    by: str = BY,
    json: bool = JSON,
) -> None:
    """Give bonus points (加分) to a unit below the assessing union."""
    from duban.engine.assess.assessment import award_bonus

    c = ctx_of(ctx)
    with c.write() as s:
        result = award_bonus(s, c.runtime, acting(s, by), scheme, unit, to, bonus, points, reason)
    emit_json(result) if json else out.print(f"{shown(to)}: +{points:g} ({shown(bonus)})")


@assess_app.command("score")
@refusals
def assess_score(
    ctx: typer.Context,
    task_id: int = typer.Argument(..., help="A task just approved."),
    points: float = typer.Option(
        ..., "--points", help="Quality points, within the scheme's range for the item."
    ),
    by: str = BY,
    json: bool = JSON,
) -> None:
    """评分: the approver scores the quality of a task it approved."""
    from duban.engine.assess.assessment import award_quality

    c = ctx_of(ctx)
    with c.write() as s:
        result = award_quality(s, c.runtime, acting(s, by), task_id, points)
    emit_json(result) if json else out.print(
        f"task {task_id}: quality {points:g} under {len(result)} scheme(s)"
    )


@refusals
def ledger(
    ctx: typer.Context,
    definition: str = typer.Argument(..., help="The item (definition id)."),
    unit: str = typer.Option(..., "--unit", help="The union whose subtree's figures are listed."),
    period: str = typer.Option(None, "--period", help="A period label: 2026, 2026-H1, 2026-Q1, 2026-03."),
    xlsx: Path = typer.Option(None, "--xlsx", help="Also write the ledger as an XLSX file."),
    by: str = BY,
    json: bool = JSON,
) -> None:
    """台账: one item's submitted figures per unit, totals and rates, and the same period last year."""
    from duban.engine.assess.ledger import ledger as build
    from duban.engine.assess.ledger import ledger_workbook

    c = ctx_of(ctx)
    with c.read() as s:
        book = build(s, c.runtime, acting(s, by), definition, unit, period)
    if xlsx:
        xlsx.write_bytes(ledger_workbook(book))
    if json:
        emit_json(book)
        return
    measures = book["measures"]
    table = Table(
        "单位",
        *(m["label"] for m in measures.values()),
        title=f"{shown(book['unit']['name'])} {shown(book['definition']['title'])} 台账 {book['period'] or ''}",
    )
    for r in book["rows"]:
        table.add_row(shown(r["name"]), *(_value(r["values"][k], m["rate"]) for k, m in measures.items()))
    table.add_row("合计", *(_value(book["total"][k], m["rate"]) for k, m in measures.items()))
    if book["last_year"] is not None:
        table.add_row(
            f"上年同期 {book['last_period']}",
            *(_value(book["last_year"][k], m["rate"]) for k, m in measures.items()),
        )
    out.print(table)
    out.print(
        f"{len(book['tasks'])} tasks; totals count approved work only" + (f"; written {xlsx}" if xlsx else "")
    )


def _value(v: float | None, rate: bool) -> str:
    return "—" if v is None else (f"{v:g}%" if rate else f"{v:g}")
