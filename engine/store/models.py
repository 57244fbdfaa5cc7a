"""The stored shape of duban: one SQLModel table per thing the engine keeps.

Instants are `Instant` columns (UTC, timezone-aware in Python). Hot paths (fan-out,
sweep, outbox claim, roll-up) use these tables through SQLAlchemy Core
(`Task.__table__`), never one ORM object per row.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from duban.engine.store.types import Instant, path_type


def _instant(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(Instant(), nullable=nullable, index=index))


def _json() -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Role(StrEnum):
    """What an account may do within its unit's subtree."""

    admin = "admin"
    staff = "staff"
    viewer = "viewer"


class TaskState(StrEnum):
    """The states of a task; the allowed moves between them are in engine/lifecycle.py."""

    open = "open"
    submitted = "submitted"
    done = "done"
    waived = "waived"
    cancelled = "cancelled"


FINISHED_STATES = (TaskState.done, TaskState.waived, TaskState.cancelled)


class AssignmentState(StrEnum):
    active = "active"
    withdrawn = "withdrawn"
    ended = "ended"


class Unit(SQLModel, table=True):
    """A union organisation (工会组织) in the tree."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200)
    parent_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    level: str = Field(max_length=16)
    # Fixed-width base-36 segments, root first; a subtree is [path, path + "~").
    path: str = Field(sa_column=Column(path_type(), nullable=False, unique=True))
    depth: int = 0
    # ";tag1;tag2;" so that "has tag" is a LIKE on both databases.
    tags: str = Field(default="", max_length=500)
    attrs: dict[str, Any] = _json()
    contacts: dict[str, Any] = _json()
    # When the unit was created, moved or re-tagged: units that joined a scope since an
    # assignment was last reconciled are found through this index, not by a tree walk.
    changed_at: datetime = _instant(index=True)


class Person(SQLModel, table=True):
    """A cadre or member named by a rule (appointments, birthdays)."""

    id: int | None = Field(default=None, primary_key=True)
    ext_id: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=100)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    kind: str = Field(max_length=16)
    appointed_on: date | None = None
    birthday: date | None = None


class PersonEvent(SQLModel, table=True):
    """An event that people or committees caused by themselves, posted once: its key says what happened."""

    __tablename__ = "person_event"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=160, unique=True)
    event: str = Field(max_length=64)
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    posted_at: datetime = _instant()


class Account(SQLModel, table=True):
    """Someone who signs in: one unit, one role."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True, index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    role: str = Field(max_length=16)
    password_hash: str = Field(max_length=255)
    email: str | None = Field(default=None, max_length=255)
    active: bool = True
    created_at: datetime = _instant()


class ApiToken(SQLModel, table=True):
    """A bearer token; only its hash is kept."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = _instant()
    expires_at: datetime = _instant()
    revoked_at: datetime | None = _instant(nullable=True)


class LoginAttempt(SQLModel, table=True):
    """A sign-in attempt, for throttling by account and address."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_name_at", "account_name", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    account_name: str = Field(max_length=64)
    address: str = Field(max_length=64, index=True)
    at: datetime = _instant()
    ok: bool = False


class DefinitionVersion(SQLModel, table=True):
    """One stored version of a definition; tasks keep the version they were made from."""

    __tablename__ = "definition_version"
    __table_args__ = (
        UniqueConstraint("def_id", "version"),
        UniqueConstraint("def_id", "digest"),
    )

    id: int | None = Field(default=None, primary_key=True)
    def_id: str = Field(max_length=64, index=True)
    version: int
    digest: str = Field(max_length=64)
    title: str = Field(max_length=300)
    body: dict[str, Any] = _json()
    source_text: str = Field(sa_column=Column(Text, nullable=False))
    source_name: str = Field(max_length=300)
    loaded_at: datetime = _instant()
    # The union that published it: only its admins, or those of a union above it, publish
    # the next version. NULL for versions stored before owners were kept (the root's). A unit id;
    # no foreign key, so the column is added in place on SQLite without rebuilding the table.
    owner_unit_id: int | None = Field(default=None, index=True)


class Assignment(SQLModel, table=True):
    """A definition assigned by a unit to its subtree."""

    id: int | None = Field(default=None, primary_key=True)
    definition_version_id: int = Field(foreign_key="definition_version.id", index=True)
    def_id: str = Field(max_length=64, index=True)
    scope_unit_id: int = Field(foreign_key="unit.id", index=True)
    issuer_unit_id: int = Field(foreign_key="unit.id")
    issued_by: str = Field(max_length=64)
    trigger: str = Field(max_length=16)
    event_name: str | None = Field(default=None, max_length=64, index=True)
    due_override: date | None = None
    starts_at: datetime = _instant()
    until: date | None = None
    state: str = Field(default=AssignmentState.active, max_length=16, index=True)
    # The latest period opened, so a roll-over knows where it stands.
    last_period: str | None = Field(default=None, max_length=16)
    reconciled_at: datetime = _instant()
    created_at: datetime = _instant()
    # The plan (definitions/plans/*.yaml) this assignment was made with, for `report --plan`.
    plan_id: str | None = Field(default=None, max_length=64, index=True)


class Target(SQLModel, table=True):
    """A numeric target of one unit under one assignment."""

    __table_args__ = (UniqueConstraint("assignment_id", "unit_id"),)

    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int = Field(foreign_key="assignment.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")
    value: float
    set_by_unit_id: int = Field(foreign_key="unit.id")


class Task(SQLModel, table=True):
    """One unit's (or one subject's) piece of an assignment, for one period."""

    __table_args__ = (
        UniqueConstraint("assignment_id", "unit_id", "subject", "period", name="uq_task_identity"),
        Index("ix_task_unit_state", "unit_id", "state"),
        # The sweep takes due tasks in (next_action_at, id) order; with id in the index a batch stops
        # after its LIMIT even when thousands of tasks share one reminder time (SQLite keys by rowid
        # anyway; PostgreSQL otherwise sorted the whole group for every batch).
        Index("ix_task_next_action_at", "next_action_at", "id"),
        # The few tasks timed on a calendar year not yet published: each sweep process asks for them once,
        # and without this index that question scanned every task.
        Index(
            "ix_task_provisional",
            "id",
            sqlite_where=text("calendar_provisional = 1"),
            postgresql_where=text("calendar_provisional"),
        ),
        # A report's escalated (督办) and target figures read these tasks themselves, not the counts:
        # an escalation then moves no count row, and the reads cost what there is of them.
        Index(
            "ix_task_escalated",
            "unit_id",
            "assignment_id",
            "trigger_at",
            sqlite_where=text("escalation_level > 0"),
            postgresql_where=text("escalation_level > 0"),
        ),
        Index(
            "ix_task_targeted",
            "unit_id",
            "assignment_id",
            sqlite_where=text("target IS NOT NULL"),
            postgresql_where=text("target IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    assignment_id: int = Field(foreign_key="assignment.id")
    definition_version_id: int = Field(foreign_key="definition_version.id")
    unit_id: int = Field(foreign_key="unit.id")
    subject: str = Field(default="", max_length=64)
    period: str = Field(default="", max_length=16)
    state: str = Field(default=TaskState.open, max_length=16)
    trigger_at: datetime = _instant()
    due_at: datetime = _instant()
    overdue_at: datetime = _instant()
    # A due date given at assignment or by an extension; overrides the definition's `due`.
    due_explicit: date | None = None
    calendar_provisional: bool = False
    escalation_level: int = 0
    # The next reminder or escalation; NULL once nothing more is due. The sweep's index (ix_task_next_action_at).
    next_action_at: datetime | None = _instant(nullable=True)
    # How many of the timeline's actions (in time order) have been handled.
    action_cursor: int = 0
    # Bumped when the due date changes, so notices of the old timeline stay distinct.
    schedule_epoch: int = 0
    # What counts towards the target (per the definition's `counts`): own reports, children's approved progress.
    progress: float = 0
    # The unit's own reports (increments and corrections).
    progress_own: float = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # The approved progress of the child units' tasks of the same assignment and period.
    progress_children: float = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # The part of `progress` that counts for the parent: set when approved (at once without approval).
    progress_approved: float = Field(default=0, sa_column_kwargs={"server_default": "0"})
    target: float | None = None
    approval_step: int = 0
    # When the task began waiting for its current approver; NULL unless submitted.
    waiting_since: datetime | None = _instant(nullable=True)
    form: dict[str, Any] = _json()
    submitted_by: str | None = Field(default=None, max_length=64)
    event_data: dict[str, Any] = _json()
    created_at: datetime = _instant()
    updated_at: datetime = _instant()
    finished_at: datetime | None = _instant(nullable=True)


class TaskCount(SQLModel, table=True):
    """How many tasks of the units strictly below one unit (`node`, its path) stand at one key.

    Kept by every move in the move's own transaction (engine/store/counts.py), so a report reads
    its children's rows instead of their tasks. `overdue_at` is part of the key so that "overdue"
    is exact at any instant, `trigger_at` so that a report of one period is; `late` marks tasks
    done at or after their `overdue_at`. Escalation is not in the key: the sweep moves no row.
    """

    __tablename__ = "task_count"
    __table_args__ = (
        # Moves leave rows at n = 0; they are found (and deleted) through this index alone.
        Index("ix_task_count_empty", "node", sqlite_where=text("n = 0"), postgresql_where=text("n = 0")),
    )

    node: str = Field(sa_column=Column(path_type(), primary_key=True))
    assignment_id: int = Field(foreign_key="assignment.id", primary_key=True)
    period: str = Field(max_length=16, primary_key=True)
    trigger_at: datetime = Field(sa_column=Column(Instant(), primary_key=True))
    state: str = Field(max_length=16, primary_key=True)
    overdue_at: datetime = Field(sa_column=Column(Instant(), primary_key=True))
    late: bool = Field(primary_key=True)
    n: int = 0
    progress: float = 0
    target: float = 0
    # How many of the n tasks have a target, so a sum over none reads as "no target", not 0.
    targeted: int = 0


class Supervision(SQLModel, table=True):
    """A late task on the supervision list (督办) of the unit it was escalated to."""

    __table_args__ = (UniqueConstraint("task_id", "unit_id"),)

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    level: int
    since: datetime = _instant()


class Audit(SQLModel, table=True):
    """The append-only log: who did what, when. The database refuses UPDATE and DELETE."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _instant()
    actor: str = Field(max_length=64)
    action: str = Field(max_length=48)
    task_id: int | None = Field(default=None, index=True)
    assignment_id: int | None = Field(default=None, index=True)
    unit_id: int | None = Field(default=None)
    payload: dict[str, Any] = _json()


class Notification(SQLModel, table=True):
    """One notice the sweep decided to send: unique per (task, kind, step)."""

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=128, unique=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    kind: str = Field(max_length=24)
    step: int
    unit_id: int = Field(foreign_key="unit.id")
    created_at: datetime = _instant()
    payload: dict[str, Any] = _json()


class Outbox(SQLModel, table=True):
    """A notice waiting to go out on one channel to one address."""

    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=200, unique=True)
    notification_id: int = Field(foreign_key="notification.id", index=True)
    kind: str = Field(max_length=24)
    task_id: int = Field(foreign_key="task.id")
    unit_id: int = Field(foreign_key="unit.id")
    channel: str = Field(max_length=16)
    address: str = Field(max_length=500)
    account_id: int | None = Field(default=None, foreign_key="account.id")
    # One recipient's notices of one sweep share a digest key and go out as one message.
    digest_key: str = Field(max_length=200, index=True)
    # pending -> sending (claimed, leased until next_attempt_at) -> sent | pending (retry) | dead.
    status: str = Field(default="pending", max_length=16)
    # Set when a delivery claims the row; it is the message's idempotency key, kept across
    # retries, so a resend after a crash is the same message to the far end.
    claim_key: str | None = Field(default=None, max_length=240)
    attempts: int = 0
    next_attempt_at: datetime = _instant()
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = _instant()
    sent_at: datetime | None = _instant(nullable=True)


class InboxItem(SQLModel, table=True):
    """A notice in an account's in-app inbox."""

    __tablename__ = "inbox_item"
    __table_args__ = (UniqueConstraint("account_id", "notification_id"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    notification_id: int = Field(foreign_key="notification.id")
    created_at: datetime = _instant()
    read_at: datetime | None = _instant(nullable=True)


class Attachment(SQLModel, table=True):
    """A file of evidence, stored content-addressed under the data directory."""

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    sha256: str = Field(max_length=64)
    size: int
    content_type: str = Field(max_length=100)
    filename: str = Field(max_length=255)
    label: str | None = Field(default=None, max_length=100)
    uploaded_by: str = Field(max_length=64)
    created_at: datetime = _instant()


class SchemeVersion(SQLModel, table=True):
    """One stored version of a scoring scheme (考核细则)."""

    __tablename__ = "scheme_version"
    __table_args__ = (
        UniqueConstraint("scheme_id", "version"),
        UniqueConstraint("scheme_id", "digest"),
    )

    id: int | None = Field(default=None, primary_key=True)
    scheme_id: str = Field(max_length=64, index=True)
    version: int
    digest: str = Field(max_length=64)
    title: str = Field(max_length=200)
    year: int
    body: dict[str, Any] = _json()
    source_text: str = Field(sa_column=Column(Text, nullable=False))
    source_name: str = Field(max_length=300)
    loaded_at: datetime = _instant()


class Assessment(SQLModel, table=True):
    """An assessing union's closed assessment for a scheme's year: the results as they were frozen."""

    __table_args__ = (UniqueConstraint("scheme_id", "unit_id", "year", name="uq_assessment_identity"),)

    id: int | None = Field(default=None, primary_key=True)
    scheme_id: str = Field(max_length=64)
    scheme_version_id: int = Field(foreign_key="scheme_version.id")
    unit_id: int = Field(foreign_key="unit.id")
    year: int
    state: str = Field(default="open", max_length=16)
    changed_at: datetime = _instant()
    changed_by: str = Field(max_length=64)
    results: dict[str, Any] = _json()


class ScoreAward(SQLModel, table=True):
    """Points given by a person: quality on approval (per task), or a bonus item (per unit)."""

    __tablename__ = "score_award"
    __table_args__ = (Index("ix_score_award_scheme_year", "scheme_id", "year", "unit_id"),)

    id: int | None = Field(default=None, primary_key=True)
    scheme_id: str = Field(max_length=64)
    year: int
    unit_id: int = Field(foreign_key="unit.id")
    kind: str = Field(max_length=16)
    item: str = Field(max_length=64)
    task_id: int | None = Field(default=None, foreign_key="task.id")
    points: float
    reason: str = Field(default="", max_length=500)
    awarded_by: str = Field(max_length=64)
    awarded_at: datetime = _instant()


metadata = SQLModel.metadata
