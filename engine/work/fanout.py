"""Assignments and fan-out: turning one assigned definition into its tasks, set-based.

Every task of one fan-out shares one timeline (same trigger, same period), so the
tasks and their audit rows are written with two INSERT … SELECT statements over the
scope's path range — never one ORM object per row. A task is unique per
(assignment, unit, subject, period), and the inserts skip what exists, so running a
fan-out, a roll-over or a reconcile twice creates nothing twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, ClassVar

from pydantic import ValidationError
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    Integer,
    String,
    and_,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from duban.engine.access import permissions
from duban.engine.access.actors import Actor
from duban.engine.errors import Conflict, InvalidInput, NotFound, Problem
from duban.engine.language.model import (
    LEVEL_ORDER,
    Ancestor,
    AssignedTrigger,
    Definition,
    DueSetAtAssignment,
    EventTrigger,
    EveryTrigger,
    LateAssignment,
    parse_late,
)
from duban.engine.language.model import Target as TargetRule
from duban.engine.org import tree
from duban.engine.runtime import Runtime
from duban.engine.store import audit, counts
from duban.engine.store.db import is_sqlite
from duban.engine.store.models import (
    FINISHED_STATES,
    Assignment,
    AssignmentState,
    Audit,
    DefinitionVersion,
    Person,
    Target,
    Task,
    TaskState,
    Unit,
)
from duban.engine.store.types import Instant
from duban.engine.time.bounds import check_year
from duban.engine.time.periods import Period, period_of
from duban.engine.time.timeline import Timeline, compute_timeline, recurring_trigger_at
from duban.engine.validation import plain_text
from duban.engine.work import catalog
from duban.engine.work.targets import value_problem

tasks = Task.__table__
units = Unit.__table__
# An event is posted when it happens; a little ahead allows for clocks and time zones.
MAX_EVENT_AHEAD = timedelta(days=1)
MAX_LABEL = 100
audits = Audit.__table__
targets_t = Target.__table__
assignments = Assignment.__table__


@dataclass(frozen=True)
class AssignResult:
    """What an assignment created."""

    assignment_id: int
    created: int
    period: str | None
    # The first tasks' deadline and, when their fixed date had passed, the rule applied.
    due_at: str | None = None
    late: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "assignment_id": self.assignment_id,
            "created": self.created,
            "period": self.period,
            "due_at": self.due_at,
            "late_assignment": self.late,
        }


def late_rule(text: str | None) -> LateAssignment | None:
    """An assignment's `--late skip|grace:P30D` (API `late`), checked; None when not given."""
    if text is None:
        return None
    try:
        return LateAssignment.model_validate(parse_late(text))
    except (ValueError, ValidationError) as exc:
        errors = exc.errors(include_url=False) if isinstance(exc, ValidationError) else []
        message = str(errors[0].get("ctx", {}).get("error", errors[0]["msg"])) if errors else str(exc)
        raise InvalidInput(
            [Problem("assign", "late", f"{message.removeprefix('Value error, ')} (e.g. skip or grace:P30D)")]
        ) from None


class _Attr(ColumnElement[Any]):
    """One key of a unit's attrs as a typed SQL value, NULL when absent or of another JSON type.

    Checking the JSON type first keeps a unit whose `members` is text from failing the
    whole statement on PostgreSQL (a cast of 'many' to float raises there).
    """

    inherit_cache = True
    _traverse_internals: ClassVar[Any] = [
        ("column", InternalTraversal.dp_clauseelement),
        ("key", InternalTraversal.dp_clauseelement),
        ("kind", InternalTraversal.dp_string),
    ]

    def __init__(self, column: Any, key: str, kind: str) -> None:
        self.column = column
        self.key = literal(key, String)
        self.kind = kind
        self.type = {"number": Float(), "text": String(), "boolean": Boolean()}[kind]


_SQLITE_TYPES = {"number": "('integer', 'real')", "text": "('text')", "boolean": "('true', 'false')"}
_PG_TYPES = {"number": ("number", "::float8"), "text": ("string", ""), "boolean": ("boolean", "::boolean")}


@compiles(_Attr, "sqlite")
def _attr_sqlite(element: _Attr, compiler: Any, **kw: Any) -> str:
    col, key = compiler.process(element.column, **kw), compiler.process(element.key, **kw)
    path = f"('$.\"' || {key} || '\"')"
    kinds = _SQLITE_TYPES[element.kind]
    return f"CASE WHEN json_type({col}, {path}) IN {kinds} THEN json_extract({col}, {path}) END"


@compiles(_Attr, "postgresql")
def _attr_postgresql(element: _Attr, compiler: Any, **kw: Any) -> str:
    col, key = compiler.process(element.column, **kw), compiler.process(element.key, **kw)
    json_type, cast = _PG_TYPES[element.kind]
    return (
        f"CASE WHEN json_typeof({col} -> CAST({key} AS TEXT)) = '{json_type}' "
        f"THEN ({col} ->> CAST({key} AS TEXT)){cast} END"
    )


def _kind(value: Any) -> str:
    return "boolean" if isinstance(value, bool) else "number" if isinstance(value, (int, float)) else "text"


def _attr_condition(key: str, rule: Any) -> Any:
    """One `where` entry: a plain value is equality; a mapping's comparisons must all hold.

    A comparison never matches a unit that lacks the attribute or holds another type.
    """
    comparisons = rule if isinstance(rule, dict) else {"=": rule}
    conds = []
    for op, operand in comparisons.items():
        if op == "in":
            # A list may mix text and numbers: each kind is compared as that kind.
            by_kind: dict[str, list[Any]] = {}
            for v in operand:
                by_kind.setdefault(_kind(v), []).append(v)
            conds.append(or_(*[_Attr(units.c.attrs, key, k).in_(vs) for k, vs in by_kind.items()]))
        else:
            conds.append(_OPS[op](_Attr(units.c.attrs, key, _kind(operand)), operand))
    return and_(*conds)


_OPS = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _has_tag(column: Any, tag: str) -> Any:
    # `_` is a LIKE wildcard and tags may hold it (non_public).
    return column.like(f"%;{tag.replace('_', '/_')};%", escape="/")


def _tag_conditions(column: Any, tags: list[str], tags_any: list[str], tags_none: list[str]) -> list[Any]:
    conds = [_has_tag(column, t) for t in tags]
    if tags_any:
        conds.append(or_(*[_has_tag(column, t) for t in tags_any]))
    conds += [~_has_tag(column, t) for t in tags_none]
    return conds


def _under(rule: Ancestor, scope_path: str) -> Any:
    """Some proper ancestor of the unit, inside the scope, matches `rule`.

    The ancestors' paths are the unit's own path cut at each segment; a child always sits
    at a lower level than its parent, so there are at most as many as there are levels and
    each is one probe of the unique path index.
    """
    anc = units.alias("ancestor")
    cuts = range(len(scope_path), tree.SEGMENT * len(LEVEL_ORDER), tree.SEGMENT)
    conds = [
        anc.c.path.in_([func.substr(units.c.path, 1, n) for n in cuts]),
        anc.c.depth < units.c.depth,
    ]
    if rule.levels:
        conds.append(anc.c.level.in_([lv.value for lv in rule.levels]))
    conds += _tag_conditions(anc.c.tags, rule.tags, rule.tags_any, rule.tags_none)
    return exists().where(*conds)


def matching_units(defn: Definition, scope_path: str) -> Any:
    """SQL condition: units of the scope's subtree that the definition applies to."""
    conds = [tree.in_subtree(scope_path)]
    rule = defn.applies_to
    if rule.levels:
        conds.append(units.c.level.in_([lv.value for lv in rule.levels]))
    conds += _tag_conditions(units.c.tags, rule.tags, rule.tags_any, rule.tags_none)
    conds += [_attr_condition(key, value) for key, value in rule.where.items()]
    if rule.under is not None:
        conds.append(_under(rule.under, scope_path))
    return and_(*conds)


def timeline_for(
    rt: Runtime,
    defn: Definition,
    trigger_at: datetime,
    period: Period | None,
    due: date | None,
    late: LateAssignment | None = None,
) -> Timeline:
    """The one timeline every task of a fan-out shares."""
    return compute_timeline(
        defn,
        trigger_at,
        period=period,
        explicit_due=due,
        calendar=rt.calendar,
        tz=rt.tz,
        reminder_time=rt.reminder_time,
        late=late,
    )


@dataclass(frozen=True)
class Opening:
    """The tasks an assignment or roll-over opens now: their period, timeline and stored explicit due."""

    period: Period | None
    timeline: Timeline
    due_explicit: date | None


def first_opening(
    rt: Runtime, defn: Definition, now: datetime, due: date | None, late: LateAssignment | None = None
) -> Opening:
    """The current period's tasks, or the next period's when the fixed date passed under `skip`."""
    period = (
        period_of(defn.trigger.every, rt.local(now).date())
        if isinstance(defn.trigger, EveryTrigger)
        else None
    )
    trigger_at = recurring_trigger_at(period, now, rt.tz) if period else now
    timeline = timeline_for(rt, defn, trigger_at, period, due, late)
    if timeline.skips_period and period is not None:
        missed = timeline.late
        period = period.next()
        next_timeline = timeline_for(rt, defn, recurring_trigger_at(period, now, rt.tz), period, due, late)
        timeline = replace(next_timeline, late=missed)
    explicit = due
    if late is not None and timeline.late is not None and not late.skip:
        # The assignment's grace is not in the definition: store its date so a later
        # re-timing (sweep, extension, a newly known year) gives the same deadline.
        explicit = timeline.due_at.date()
    return Opening(period, timeline, explicit)


def preview_assignment(
    session: Session,
    rt: Runtime,
    actor: Actor,
    def_id: str,
    scope_code: str,
    due: date | None = None,
    late: LateAssignment | None = None,
) -> dict[str, Any]:
    """What assigning would create, without creating it: counts per level and the timeline."""
    check_year(due, "assignment", "due")
    scope = tree.get_unit(session, scope_code)
    permissions.can_assign(actor, scope.path, scope.code)
    row = catalog.latest_version(session, def_id)
    defn = catalog.definition_of(row)
    count_by_level = dict(
        session.execute(
            select(units.c.level, func.count())
            .where(matching_units(defn, scope.path))
            .group_by(units.c.level)
        ).all()
    )
    doc: dict[str, Any] = {
        "definition_id": def_id,
        "version": row.version,
        "title": defn.title,
        "title_en": defn.title_en,
        "scope": scope.code,
        "units": count_by_level,
        # Fields whose values are the office's suggestion, not the plan's words (建议).
        "defaults": list(defn.defaults),
    }
    now = rt.now()
    if isinstance(defn.trigger, EventTrigger):
        doc["tasks"] = 0
        doc["note"] = f"tasks are created when {defn.trigger.event} events are posted"
        return doc
    opening = first_opening(rt, defn, now, due, late)
    doc["tasks"] = sum(count_by_level.values())
    doc["period"] = opening.period.label if opening.period else None
    doc["timeline"] = opening.timeline.to_json()
    return doc


def assign_definition(
    session: Session,
    rt: Runtime,
    actor: Actor,
    def_id: str,
    scope_code: str,
    *,
    due: date | None = None,
    until: date | None = None,
    targets: dict[str, float] | None = None,
    late: LateAssignment | None = None,
) -> AssignResult:
    """Assign the newest version of a definition to a scope and create its first tasks.

    `late` overrides the definition's late-assignment rule for the tasks opened now.
    """
    check_year(due, "assignment", "due")
    check_year(until, "assignment", "until")
    now = rt.now()
    scope = tree.get_unit(session, scope_code)
    permissions.can_assign(actor, scope.path, scope.code)
    row = catalog.latest_version(session, def_id)
    defn = catalog.definition_of(row)
    problems = []
    if until is not None and until < rt.local(now).date():
        problems.append(Problem("assign", "until", f"{until} is already past"))
    if due is not None and due < rt.local(now).date():
        problems.append(Problem("assign", "due", f"{due} is already past"))
    if isinstance(defn.due, DueSetAtAssignment) and due is None:
        problems.append(
            Problem(
                "assign",
                "due",
                f"definition {def_id} leaves the date to the assigning union (择期); give it with --due",
            )
        )
    elif (
        isinstance(defn.trigger, AssignedTrigger) and defn.due is None and defn.window is None and due is None
    ):
        problems.append(Problem("assign", "due", f"definition {def_id} has no deadline; give one with --due"))
    if late is not None and (due is not None or not defn.fixed_due):
        problems.append(
            Problem(
                "assign",
                "late",
                f"definition {def_id} has no fixed date of the year that can have passed"
                if due is None
                else "a due date given at assignment cannot have passed; leave out --late",
            )
        )
    if targets and defn.completion.target is None:
        problems.append(Problem("assign", "targets", f"definition {def_id} has no numeric target"))
    if problems:
        raise InvalidInput(problems)
    issuer_id = actor.unit_id if actor.unit_id is not None else scope.id
    assignment = Assignment(
        definition_version_id=row.id,
        def_id=def_id,
        scope_unit_id=scope.id,
        issuer_unit_id=issuer_id,
        issued_by=actor.name,
        trigger=_trigger_kind(defn),
        event_name=defn.trigger.event if isinstance(defn.trigger, EventTrigger) else None,
        due_override=due,
        starts_at=now,
        until=until,
        state=AssignmentState.active,
        reconciled_at=now,
        created_at=now,
    )
    session.add(assignment)
    session.flush()
    assert assignment.id is not None
    if targets:
        _store_targets(session, assignment.id, scope, issuer_id, targets, defn.completion.target)
    audit.record(
        session,
        now,
        actor.name,
        "assignment.created",
        assignment_id=assignment.id,
        unit_id=scope.id,
        payload={
            "definition": def_id,
            "version": row.version,
            "scope": scope.code,
            "due": due.isoformat() if due else None,
            "until": until.isoformat() if until else None,
            "targets": len(targets or {}),
            "late": str(late) if late else None,
        },
    )
    if isinstance(defn.trigger, EventTrigger):
        return AssignResult(assignment.id, 0, None)
    opening = first_opening(rt, defn, now, due, late)
    created, label = _open_current(session, rt, actor.name, assignment, defn, scope.path, now, opening)
    late_doc = opening.timeline.late.to_json() if opening.timeline.late else None
    return AssignResult(assignment.id, created, label, opening.timeline.due_at.isoformat(), late_doc)


def _trigger_kind(defn: Definition) -> str:
    if isinstance(defn.trigger, EveryTrigger):
        return "every"
    if isinstance(defn.trigger, EventTrigger):
        return "event"
    return "assigned"


def _store_targets(
    session: Session,
    assignment_id: int,
    scope: Unit,
    issuer_id: int,
    targets: dict[str, float],
    rule: TargetRule | None,
) -> None:
    codes = list(targets)
    found = dict(session.execute(select(units.c.code, units.c.path).where(units.c.code.in_(codes))).all())
    ids = dict(session.execute(select(units.c.code, units.c.id).where(units.c.code.in_(codes))).all())
    problems = []
    for code, value in targets.items():
        if code not in found or not found[code].startswith(scope.path):
            problems.append(Problem("targets", code, f"unit {code} is not in the scope {scope.code}"))
        elif problem := value_problem(rule, value):
            problems.append(Problem("targets", code, problem))
    if problems:
        raise InvalidInput(problems)
    session.execute(
        insert(targets_t),
        [
            {"assignment_id": assignment_id, "unit_id": ids[c], "value": v, "set_by_unit_id": issuer_id}
            for c, v in targets.items()
        ],
    )


def _open_current(
    session: Session,
    rt: Runtime,
    actor_name: str,
    assignment: Assignment,
    defn: Definition,
    scope_path: str,
    now: datetime,
    opening: Opening | None = None,
) -> tuple[int, str | None]:
    """Create the tasks of the current period (or the one-off tasks) for every matching unit."""
    opening = opening or first_opening(rt, defn, now, assignment.due_override)
    period = opening.period
    if period is not None and assignment.until is not None and period.start > assignment.until:
        return 0, None
    created = insert_tasks(
        session,
        rt,
        actor_name,
        assignment,
        defn,
        opening.timeline,
        matching_units(defn, scope_path),
        period=period.label if period else "",
        due_explicit=opening.due_explicit,
    )
    if period is not None:
        assignment.last_period = period.label
        session.add(assignment)
    return created, period.label if period else None


def insert_tasks(
    session: Session,
    rt: Runtime,
    actor_name: str,
    assignment: Assignment,
    defn: Definition,
    timeline: Timeline,
    unit_condition: Any,
    *,
    period: str = "",
    subject: str = "",
    event_data: dict[str, Any] | None = None,
    due_explicit: date | None = None,
) -> int:
    """INSERT … SELECT the tasks of one timeline for the units matching `unit_condition`, and their audit rows.

    `due_explicit` is stored for re-timing; the assignment's own due date when not given.
    """
    now = rt.now()
    actions = timeline.actions()
    first = actions[0].at if actions else None
    assert assignment.id is not None
    default_target = defn.completion.target.default if defn.completion.target else None
    already = exists().where(
        tasks.c.assignment_id == assignment.id,
        tasks.c.unit_id == units.c.id,
        tasks.c.subject == subject,
        tasks.c.period == period,
    )
    target_value = (
        select(targets_t.c.value)
        .where(targets_t.c.assignment_id == assignment.id, targets_t.c.unit_id == units.c.id)
        .scalar_subquery()
    )
    columns = {
        "assignment_id": literal(assignment.id, Integer),
        "definition_version_id": literal(assignment.definition_version_id, Integer),
        "unit_id": units.c.id,
        "subject": literal(subject, String),
        "period": literal(period, String),
        "state": literal(TaskState.open.value, String),
        "trigger_at": literal(timeline.trigger_at, Instant),
        "due_at": literal(timeline.due_at, Instant),
        "overdue_at": literal(timeline.overdue_at, Instant),
        "due_explicit": literal(due_explicit or assignment.due_override, Date),
        "calendar_provisional": literal(timeline.calendar_provisional, Boolean),
        "escalation_level": literal(0, Integer),
        "next_action_at": literal(first, Instant),
        "action_cursor": literal(0, Integer),
        "schedule_epoch": literal(0, Integer),
        "progress": literal(0.0, Float),
        "target": func.coalesce(target_value, literal(default_target, Float))
        if defn.completion.target
        else literal(None, Float),
        "approval_step": literal(0, Integer),
        "form": literal({}, JSON),
        "event_data": literal(event_data or {}, JSON),
        "created_at": literal(now, Instant),
        "updated_at": literal(now, Instant),
    }
    if is_sqlite(session):
        source = select(*[c.label(k) for k, c in columns.items()]).where(unit_condition, ~already)
        stmt = insert(tasks).from_select(list(columns), source)
    else:
        # Without fresh statistics PostgreSQL plans NOT EXISTS as a re-scan per row; the
        # unique constraint does the same job in one pass.
        source = select(*[c.label(k) for k, c in columns.items()]).where(unit_condition)
        stmt = (
            postgresql.insert(tasks)
            .from_select(list(columns), source)
            .on_conflict_do_nothing(constraint="uq_task_identity")
        )
    # The ids this statement inserted, and only those: a concurrent process inserting the same period's
    # tasks (its rows skipped here by the conflict) must not get its tasks audited twice.
    made = [row[0] for row in session.execute(stmt.returning(tasks.c.id))]
    if made:
        # Roll-over and reconciliation lock the assignment, and an event's tasks share its subject and day,
        # so within the range of the ids returned the tasks of this identity are this statement's.
        counts.put_created(
            session,
            and_(
                tasks.c.assignment_id == assignment.id,
                tasks.c.period == period,
                tasks.c.subject == subject,
                tasks.c.id.between(min(made), max(made)),
            ),
            assignment.id,
            period,
            timeline.trigger_at,
            timeline.overdue_at,
            with_target=defn.completion.target is not None,
        )
        payload = {"due_at": timeline.due_at.isoformat(), "period": period, "subject": subject}
        for chunk in range(0, len(made), 10_000):
            ids = made[chunk : chunk + 10_000]
            session.execute(
                insert(audits).from_select(
                    ["at", "actor", "action", "task_id", "assignment_id", "unit_id", "payload"],
                    select(
                        literal(now, Instant),
                        literal(actor_name, String),
                        literal("task.created", String),
                        tasks.c.id,
                        tasks.c.assignment_id,
                        tasks.c.unit_id,
                        literal(payload, JSON),
                    ).where(tasks.c.id.in_(ids)),
                )
            )
    return len(made)


def roll_over(
    session: Session, rt: Runtime, actor_name: str = "system", opened: list[dict[str, Any]] | None = None
) -> int:
    """Open the current period's tasks of every recurring assignment that has not opened it yet.

    `opened`, when given, collects each period opened: assignment, definition, period and tasks made.
    """
    now = rt.now()
    today = rt.local(now).date()
    created = 0
    # Row locks: a second sweep opening the same period waits here, then finds it opened (PostgreSQL;
    # SQLite's write lock already admits one). Without them both counted the other's new tasks as theirs.
    active = session.scalars(
        select(Assignment)
        .where(Assignment.state == AssignmentState.active, Assignment.trigger == "every")
        .order_by(Assignment.id)
        .with_for_update()
    ).all()
    for assignment in active:
        if assignment.until is not None and assignment.until < today:
            assignment.state = AssignmentState.ended
            session.add(assignment)
            audit.record(
                session,
                now,
                actor_name,
                "assignment.ended",
                assignment_id=assignment.id,
                payload={"until": assignment.until.isoformat()},
            )
            continue
        defn = catalog.definition_of(session.get(DefinitionVersion, assignment.definition_version_id))
        assert isinstance(defn.trigger, EveryTrigger)
        # A period opened early (late_assignment: skip) is not opened again.
        if assignment.last_period and period_of(defn.trigger.every, today).label <= assignment.last_period:
            continue
        scope = session.get(Unit, assignment.scope_unit_id)
        n, label = _open_current(session, rt, actor_name, assignment, defn, scope.path, now)
        audit.record(
            session,
            now,
            actor_name,
            "period.opened",
            assignment_id=assignment.id,
            payload={"period": label, "created": n},
        )
        if opened is not None:
            opened.append(
                {
                    "assignment_id": assignment.id,
                    "definition_id": assignment.def_id,
                    "period": label,
                    "created": n,
                }
            )
        created += n
    return created


def reconcile_scopes(session: Session, rt: Runtime, actor_name: str = "system") -> int:
    """Give units that joined an assignment's scope since it was last reconciled their current task."""
    now = rt.now()
    created = 0
    active = session.scalars(
        select(Assignment)
        .where(Assignment.state == AssignmentState.active, Assignment.trigger != "event")
        .order_by(Assignment.id)
        .with_for_update()
    ).all()
    for assignment in active:
        since = assignment.reconciled_at
        changed = session.scalar(select(func.count()).select_from(units).where(units.c.changed_at > since))
        if changed:
            defn = catalog.definition_of(session.get(DefinitionVersion, assignment.definition_version_id))
            scope = session.get(Unit, assignment.scope_unit_id)
            period = None
            if isinstance(defn.trigger, EveryTrigger):
                period = period_of(defn.trigger.every, rt.local(now).date())
                if period.label != assignment.last_period:
                    continue  # roll_over opens it for every unit
            trigger_at = now
            timeline = timeline_for(rt, defn, trigger_at, period, assignment.due_override)
            condition = and_(matching_units(defn, scope.path), units.c.changed_at > since)
            # A unit joining after a skipped date waits for the next period with the others.
            n = (
                0
                if timeline.skips_period
                else insert_tasks(
                    session,
                    rt,
                    actor_name,
                    assignment,
                    defn,
                    timeline,
                    condition,
                    period=period.label if period else "",
                )
            )
            if n:
                audit.record(
                    session,
                    now,
                    actor_name,
                    "assignment.reconciled",
                    assignment_id=assignment.id,
                    payload={"created": n},
                )
            created += n
        session.execute(
            update(assignments).where(assignments.c.id == assignment.id).values(reconciled_at=now)
        )
    return created


def post_event(
    session: Session,
    rt: Runtime,
    actor: Actor,
    name: str,
    unit_code: str,
    *,
    subject: str = "",
    label: str = "",
    at: datetime | None = None,
    data: dict[str, Any] | None = None,
) -> list[int]:
    """Create the tasks an event calls for in every active assignment whose scope holds its unit.

    `label` says in words what an event that is not about a person is (某厂欠薪集体反映): its
    tasks show it where a person's event shows the person's name, never the bare subject id.
    """
    now = rt.now()
    label = _checked_label(label)
    at = at or now
    if at.tzinfo is None:
        raise InvalidInput([Problem("event", "at", "needs a time zone offset")])
    check_year(at, "event", "at")
    if at > now + MAX_EVENT_AHEAD:
        raise InvalidInput(
            [
                Problem(
                    "event", "at", f"{at.isoformat()} is more than a day ahead; post an event once it happens"
                )
            ]
        )
    unit = tree.get_unit(session, unit_code)
    permissions.can_post_event(actor, unit.path, unit.code)
    scope = units.alias("scope")
    candidates = session.scalars(
        select(Assignment)
        .join(scope, scope.c.id == Assignment.scope_unit_id)
        .where(Assignment.state == AssignmentState.active, Assignment.event_name == name)
        .where(
            literal(unit.path, String) >= scope.c.path, literal(unit.path, String) < scope.c.path.concat("~")
        )
    ).all()
    defns = {
        a.id: catalog.definition_of(session.get(DefinitionVersion, a.definition_version_id))
        for a in candidates
    }
    about_person = (
        any(isinstance(d.trigger, EventTrigger) and d.trigger.about_person for d in defns.values())
        if defns
        else EventTrigger(event=name).about_person
    )
    if about_person:
        _check_subject(session, unit, subject)
    elif not subject and label:
        # Told only in words, the event is known by them: posted twice the same day, it is one event.
        subject = "label-" + hashlib.sha256(label.encode()).hexdigest()[:16]
    audit.record(
        session,
        now,
        actor.name,
        "event.posted",
        unit_id=unit.id,
        payload={"event": name, "subject": subject, "label": label, "at": at.isoformat(), "data": data or {}},
    )
    created = []
    period = rt.local(at).date().isoformat()
    for assignment in candidates:
        if assignment.until is not None and assignment.until < rt.local(at).date():
            continue
        defn = defns[assignment.id]
        timeline = timeline_for(rt, defn, at, None, assignment.due_override)
        condition = and_(units.c.id == unit.id, matching_units(defn, unit.path))
        before = session.scalar(select(func.coalesce(func.max(tasks.c.id), 0)))
        if insert_tasks(
            session,
            rt,
            actor.name,
            assignment,
            defn,
            timeline,
            condition,
            period=period,
            subject=subject,
            event_data={**(data or {}), "event": name, **({"label": label} if label else {})},
        ):
            created += list(
                session.scalars(
                    select(tasks.c.id).where(tasks.c.assignment_id == assignment.id, tasks.c.id > before)
                )
            )
    return created


def _checked_label(label: str) -> str:
    label = label.strip()
    if len(label) > MAX_LABEL:
        raise InvalidInput([Problem("event", "label", f"at most {MAX_LABEL} characters, got {len(label)}")])
    try:
        return plain_text(label)
    except ValueError as e:
        raise InvalidInput([Problem("event", "label", str(e))]) from None


def _check_subject(session: Session, unit: Unit, subject: str) -> None:
    """An event about a person names one of the unit's people (any other id reads the same)."""
    if not subject:
        raise InvalidInput(
            [Problem("event", "subject", f"required: the id of the person of {unit.code} it is about")]
        )
    found = session.scalar(select(Person.id).where(Person.ext_id == subject, Person.unit_id == unit.id))
    if found is None:
        raise InvalidInput([Problem("event", "subject", f"{subject!r} is not a person of {unit.code}")])


def withdraw_assignment(
    session: Session, rt: Runtime, actor: Actor, assignment_id: int, reason: str = ""
) -> int:
    """Withdraw an assignment: its unfinished tasks are cancelled."""
    now = rt.now()
    assignment = session.get(Assignment, assignment_id)
    if assignment is None:
        raise NotFound(f"assignment {assignment_id} not found")
    issuer = session.get(Unit, assignment.issuer_unit_id)
    permissions.can_withdraw(actor, issuer.path, assignment_id)
    if assignment.state != AssignmentState.active:
        raise Conflict(f"assignment {assignment_id} is {assignment.state}, not active")
    assignment.state = AssignmentState.withdrawn
    session.add(assignment)
    unfinished = and_(
        tasks.c.assignment_id == assignment_id, tasks.c.state.not_in([s.value for s in FINISHED_STATES])
    )
    counts.take(session, tasks.c.assignment_id == assignment_id)
    session.execute(
        insert(audits).from_select(
            ["at", "actor", "action", "task_id", "assignment_id", "unit_id", "payload"],
            select(
                literal(now, Instant),
                literal(actor.name, String),
                literal("task.cancelled", String),
                tasks.c.id,
                tasks.c.assignment_id,
                tasks.c.unit_id,
                literal({"reason": reason}, JSON),
            ).where(unfinished),
        )
    )
    result = session.execute(
        update(tasks)
        .where(unfinished)
        .values(state=TaskState.cancelled, next_action_at=None, finished_at=now, updated_at=now)
    )
    counts.put(session, tasks.c.assignment_id == assignment_id)
    counts.drop_empty(session)
    audit.record(
        session,
        now,
        actor.name,
        "assignment.withdrawn",
        assignment_id=assignment_id,
        payload={"reason": reason, "cancelled": result.rowcount},
    )
    return result.rowcount or 0


def list_assignments(session: Session, actor: Actor) -> list[dict[str, Any]]:
    """Assignments the actor sees: those inside its subtree and those whose scope covers its unit.

    An assignment made above the actor's subtree shows what the actor needs to do the work (the
    definition, its dates and state) but not the higher union's scope code or the account that
    issued it: `scope` and `issued_by` are None there, as for a unit outside one's subtree.
    """
    scope = units.alias("scope")
    stmt = (
        select(assignments, scope.c.code.label("scope_code"), scope.c.path.label("scope_path"))
        .join(scope, scope.c.id == assignments.c.scope_unit_id)
        .where(permissions.visible_scope(actor, scope.c.path))
        .order_by(assignments.c.id)
    )
    rows = []
    for r in session.execute(stmt).mappings():
        own = actor.is_operator or r["scope_path"].startswith(actor.unit_path)
        rows.append(
            {
                "id": r["id"],
                "definition_id": r["def_id"],
                "scope": r["scope_code"] if own else None,
                "state": r["state"],
                "trigger": r["trigger"],
                "issued_by": r["issued_by"] if own else None,
                "last_period": r["last_period"],
                "due": r["due_override"].isoformat() if r["due_override"] else None,
                "until": r["until"].isoformat() if r["until"] else None,
                "created_at": r["created_at"].isoformat(),
            }
        )
    return rows
