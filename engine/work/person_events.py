"""Events that people and committees cause by themselves: an appointment, a birthday, a term's end.

The periodic job (and a people import) calls `post_people_events`; it posts through
`fanout.post_event`, so each event creates the tasks of the assignments that listen and
writes its `event.posted` audit row. A `person_event` row keyed by what happened (the
person and the date, or the unit and the term's end) makes each event post exactly once,
however often the job runs or the people file is imported. Nothing is posted, and no key
is taken, where no active assignment listens, so an assignment made later still hears of
what is recent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import String, and_, cast, extract, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from duban.engine.access.actors import SYSTEM, Actor
from duban.engine.org import tree
from duban.engine.runtime import Runtime
from duban.engine.store.db import is_sqlite
from duban.engine.store.models import Assignment, AssignmentState, Person, PersonEvent, Unit
from duban.engine.work import fanout

units = Unit.__table__
people = Person.__table__
person_events = PersonEvent.__table__

APPOINTED = "cadre.appointed"
BIRTHDAY = "member.birthday"
TERM_EXPIRING = "committee.term_expiring"
# An appointment older than this is history: importing a list of sitting cadres makes no tasks.
APPOINTMENT_WINDOW = timedelta(days=365)
# Days the job looks back, so that a stopped scheduler still posts what it missed.
CATCH_UP = timedelta(days=7)
# A committee's term-expiring event comes this long before the term ends (the re-election's time).
TERM_NOTICE_MONTHS = 3


@dataclass(frozen=True)
class Due:
    """One event that has happened and may need posting."""

    key: str
    name: str
    unit_code: str
    unit_path: str
    subject: str
    on: date
    person_id: int | None = None


def post_people_events(session: Session, rt: Runtime, actor: Actor = SYSTEM) -> int:
    """Post the appointments, birthdays and term ends that listening assignments have not heard of."""
    today = rt.local(rt.now()).date()
    scopes = _listening_scopes(session)
    posted = 0
    for due in _appointments(session, today, scopes.get(APPOINTED)):
        posted += _post(session, rt, actor, due)
    for due in _birthdays(session, today, scopes.get(BIRTHDAY)):
        posted += _post(session, rt, actor, due)
    for due in _term_ends(session, today, scopes.get(TERM_EXPIRING)):
        posted += _post(session, rt, actor, due)
    return posted


def _listening_scopes(session: Session) -> dict[str, list[str]]:
    """Per event name, the scope paths of the active assignments that listen for it."""
    scope = units.alias("scope")
    rows = session.execute(
        select(Assignment.event_name, scope.c.path)
        .join(scope, scope.c.id == Assignment.scope_unit_id)
        .where(
            Assignment.state == AssignmentState.active,
            Assignment.event_name.in_([APPOINTED, BIRTHDAY, TERM_EXPIRING]),
        )
    ).all()
    out: dict[str, list[str]] = {}
    for name, path in rows:
        out.setdefault(name, []).append(path)
    return out


def _in_scopes(scopes: list[str]) -> Any:
    return or_(*(tree.in_subtree(p) for p in scopes))


def _people(session: Session, scopes: list[str], *conditions: Any) -> Iterator[Any]:
    stmt = (
        select(
            people.c.id, people.c.ext_id, people.c.appointed_on, people.c.birthday, units.c.code, units.c.path
        )
        .join(units, units.c.id == people.c.unit_id)
        .where(_in_scopes(scopes), *conditions)
    )
    yield from session.execute(stmt)


def _appointments(session: Session, today: date, scopes: list[str] | None) -> Iterator[Due]:
    if not scopes:
        return
    since = today - APPOINTMENT_WINDOW
    for r in _people(session, scopes, people.c.appointed_on >= since, people.c.appointed_on <= today):
        yield Due(
            f"{APPOINTED}:{r.ext_id}:{r.appointed_on}",
            APPOINTED,
            r.code,
            r.path,
            r.ext_id,
            r.appointed_on,
            r.id,
        )


def _anniversary(born: date, year: int) -> date:
    # 29 February is kept on 28 February in a common year.
    return born.replace(year=year) if (born.month, born.day) != (2, 29) or _leap(year) else date(year, 2, 28)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _birthdays(session: Session, today: date, scopes: list[str] | None) -> Iterator[Due]:
    if not scopes:
        return
    days = [today - timedelta(days=n) for n in range(CATCH_UP.days + 1)]
    pairs = {(d.month, d.day) for d in days} | {(2, 29) for d in days if (d.month, d.day) == (2, 28)}
    month, day = extract("month", people.c.birthday), extract("day", people.c.birthday)
    on_day = or_(*(and_(month == m, day == d) for m, d in sorted(pairs)))
    for r in _people(session, scopes, people.c.birthday.is_not(None), on_day):
        for d in days:
            if _anniversary(r.birthday, d.year) == d:
                yield Due(f"{BIRTHDAY}:{r.ext_id}:{d.year}", BIRTHDAY, r.code, r.path, r.ext_id, d, r.id)


def _term_ends(session: Session, today: date, scopes: list[str] | None) -> Iterator[Due]:
    """Units whose attrs give `elected_on` and `term_years`: the event comes three months before the end."""
    if not scopes:
        return
    for code, path, attrs in session.execute(
        # Only units that carry a term at all are read (attrs is JSON on PostgreSQL, text on SQLite).
        select(units.c.code, units.c.path, units.c.attrs).where(
            _in_scopes(scopes), cast(units.c.attrs, String).like('%"elected_on"%')
        )
    ):
        end = _term_end(attrs or {})
        if end is None:
            continue
        notice = _months_before(end, TERM_NOTICE_MONTHS)
        if notice <= today <= end:
            yield Due(f"{TERM_EXPIRING}:{code}:{end}", TERM_EXPIRING, code, path, "", notice)


def _term_end(attrs: dict[str, Any]) -> date | None:
    try:
        elected = date.fromisoformat(str(attrs["elected_on"]))
        years = int(attrs["term_years"])
    except (KeyError, ValueError, TypeError):
        return None
    if not 1 <= years <= 10:
        return None
    return _anniversary(elected, elected.year + years)


def _months_before(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    first = date(year, month + 1, 1)
    following = date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    return first.replace(day=min(day.day, (following - first).days))


def _post(session: Session, rt: Runtime, actor: Actor, due: Due) -> int:
    values = {"key": due.key, "event": due.name, "person_id": due.person_id, "posted_at": rt.now()}
    dialect = sqlite if is_sqlite(session) else postgresql
    claimed = session.scalar(
        dialect.insert(person_events)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(person_events.c.id)
    )
    if claimed is None:
        return 0  # posted before (or by a job running alongside)
    at = datetime.combine(due.on, time(0), tzinfo=rt.tz)
    fanout.post_event(session, rt, actor, due.name, due.unit_code, subject=due.subject, at=at)
    return 1
