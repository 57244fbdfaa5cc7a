"""A task's life: submit, approve, reject, waive, extend, urge.

The states and the moves between them are data (`MOVES`), checked in one place
(`_move`); who may make each move is asked of engine.permissions. Every move
writes its audit event in the same transaction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from duban.engine.access import permissions
from duban.engine.access.actors import Actor
from duban.engine.errors import Conflict, InvalidInput, NotFound, Problem
from duban.engine.followup.notices import dedupe_key, notify
from duban.engine.followup.timelines import TimelineCache, approval_deadline, reschedule, utc
from duban.engine.language.model import Definition
from duban.engine.org import routing
from duban.engine.runtime import Runtime
from duban.engine.store import audit, counts
from duban.engine.store.models import (
    Assignment,
    Attachment,
    Audit,
    DefinitionVersion,
    Notification,
    Supervision,
    Task,
    TaskState,
    Unit,
)
from duban.engine.time.bounds import check_year
from duban.engine.work import catalog, targets
from duban.engine.work.attachments import StoredFile, attach_files, discard
from duban.engine.work.evidence import check_attachments, validate_form

S = TaskState
# (action, from states, to state); "approve" may also stay in `submitted` mid-chain.
MOVES: dict[str, tuple[frozenset[S], S | None]] = {
    "submit": (frozenset({S.open}), S.submitted),
    "progress": (frozenset({S.open}), None),
    "approve": (frozenset({S.submitted}), S.done),
    "reject": (frozenset({S.submitted}), S.open),
    "waive": (frozenset({S.open, S.submitted}), S.waived),
    "extend": (frozenset({S.open, S.submitted}), None),
    "urge": (frozenset({S.open, S.submitted}), None),
}


@dataclass
class TaskContext:
    """A task with what its rules need: its unit, its assignment and its definition."""

    task: Task
    unit: Unit
    assignment: Assignment
    defn: Definition
    # What the task counted for when loaded; `_save` moves the counts from it to what it counts for now.
    counted: counts.Counted = field(init=False)

    def __post_init__(self) -> None:
        self.counted = counts.counted(self.task)


def load(session: Session, actor: Actor, task_id: int, *, lock: bool = True) -> TaskContext:
    """The task, or NotFound when it is missing or outside the actor's subtree."""
    stmt = select(Task).where(Task.id == task_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    task = session.scalars(stmt).first()
    if task is None:
        raise NotFound(f"task {task_id} not found")
    unit = session.get(Unit, task.unit_id)
    permissions.require_task_visible(actor, unit.path, task_id)
    assignment = session.get(Assignment, task.assignment_id)
    defn = catalog.definition_of(session.get(DefinitionVersion, task.definition_version_id))
    return TaskContext(task, unit, assignment, defn)


def _move(ctx: TaskContext, action: str) -> None:
    allowed, _ = MOVES[action]
    if ctx.task.state not in allowed:
        raise Conflict(f"cannot {action} task {ctx.task.id}: it is {ctx.task.state}")


def _finish(ctx: TaskContext, state: S, now: Any) -> None:
    ctx.task.state = state
    ctx.task.next_action_at = None
    ctx.task.finished_at = now


def _save(
    session: Session, rt: Runtime, ctx: TaskContext, actor: Actor, action: str, payload: dict[str, Any]
) -> None:
    ctx.task.updated_at = rt.now()
    session.add(ctx.task)
    session.flush()
    now_counted = counts.counted(ctx.task)
    counts.shift(session, ctx.unit.path, ctx.counted, now_counted)
    ctx.counted = now_counted
    audit.record(
        session,
        rt.now(),
        actor.name,
        f"task.{action}",
        task_id=ctx.task.id,
        assignment_id=ctx.task.assignment_id,
        unit_id=ctx.task.unit_id,
        payload=payload,
    )


def _approver(session: Session, ctx: TaskContext, step: int) -> int | None:
    """The unit that approves step `step`, skipping steps that name no unit (a root has no parent)."""
    unit_id, _ = routing.approver(
        session, ctx.unit.path, ctx.assignment.issuer_unit_id, ctx.defn.approval, step
    )
    return unit_id


def _gated(session: Session, ctx: TaskContext) -> bool:
    """Whether the task's work counts only once approved (somebody approves it)."""
    return bool(ctx.defn.approval) and _approver(session, ctx, 0) is not None


def _complete(session: Session, rt: Runtime, ctx: TaskContext) -> str:
    """A task whose work is in: to approval, or done when nobody approves."""
    ctx.task.approval_step = 0
    approver = _approver(session, ctx, 0) if ctx.defn.approval else None
    if approver is not None:
        ctx.task.state = S.submitted
        _wait_for(session, rt, ctx, approver)
        return "submitted"
    _finish(ctx, S.done, rt.now())
    return "done"


def _wait_for(session: Session, rt: Runtime, ctx: TaskContext, approver: int) -> None:
    """The task now waits for `approver`: the branch's timeline pauses, the approver's deadline runs."""
    now = rt.now()
    ctx.task.waiting_since = now
    ctx.task.next_action_at = approval_deadline(rt, ctx.defn, now)
    _tell(session, rt, ctx, "submitted", approver, {"step": ctx.task.approval_step + 1})


def submit_task(
    session: Session,
    rt: Runtime,
    actor: Actor,
    task_id: int,
    *,
    form: dict[str, Any] | None = None,
    files: list[StoredFile] | None = None,
    progress: float | None = None,
    progress_total: float | None = None,
) -> Task:
    """Hand in the evidence (or a progress report) for a task of one's own unit.

    `progress` is an increment (negative to correct); `progress_total` replaces the unit's own
    reported total. Staged files are attached when everything is valid, and discarded when anything
    is refused.
    """
    try:
        return _submit(session, rt, actor, task_id, form or {}, files or [], progress, progress_total)
    finally:
        discard(files or [])


def _submit(
    session: Session,
    rt: Runtime,
    actor: Actor,
    task_id: int,
    form: dict[str, Any],
    files: list[StoredFile],
    progress: float | None,
    progress_total: float | None = None,
) -> Task:
    ctx = load(session, actor, task_id)
    permissions.can_act_on_own_task(actor, ctx.task.unit_id, ctx.unit.path, task_id)
    completion = ctx.defn.completion
    where = f"task {task_id}"
    counting = completion.target is not None or ctx.defn.times > 1
    _move(ctx, "progress" if counting else "submit")
    _check_window(session, rt, ctx, where)
    clean = validate_form(completion, form, ctx.task.period, where, rt.local(rt.now()).date())
    already = session.scalar(select(func.count()).where(Attachment.task_id == task_id)) or 0
    check_attachments(completion, [f.label for f in files], already, where)
    increment = _increment(session, ctx, progress, progress_total, where)
    attach_files(session, rt, actor, task_id, files)
    ctx.task.form = clean
    ctx.task.submitted_by = actor.name
    payload: dict[str, Any] = {"form": clean, "files": [f.sha256 for f in files]}
    if counting:
        was = ctx.task.progress_own or 0
        ctx.task.progress_own = was + increment
        if increment < 0 or progress_total is not None:
            payload["correction"] = {"from": was, "to": ctx.task.progress_own}
        payload["increment"] = increment
        payload["progress_own"] = ctx.task.progress_own
        _count_progress(session, ctx)
        payload["progress"] = ctx.task.progress
        goal = ctx.task.target if completion.target is not None else ctx.defn.times
        if goal is not None and ctx.task.progress >= goal:
            payload["outcome"] = _complete(session, rt, ctx)
        _save(session, rt, ctx, actor, "progressed", payload)
        if completion.target is not None and not _gated(session, ctx):
            _approve_progress(session, rt, actor, ctx)
        return ctx.task
    payload["outcome"] = _complete(session, rt, ctx)
    _save(session, rt, ctx, actor, "submitted", payload)
    return ctx.task


def _check_window(session: Session, rt: Runtime, ctx: TaskContext, where: str) -> None:
    """Work that belongs to a window of the year (上半年, 下半年, from a date) is not handed in before it opens."""
    if ctx.defn.window is None:
        return
    task = ctx.task
    timeline, _ = TimelineCache(session, rt).timeline(
        task.definition_version_id, task.trigger_at, task.period, task.due_explicit
    )
    opens = timeline.opens_at
    if opens is not None and rt.now() < opens:
        message = f"this work belongs to the window from {opens.date()}; hand it in from that day"
        raise InvalidInput([Problem(where, "window", message)])


def _increment(
    session: Session, ctx: TaskContext, progress: float | None, total: float | None, where: str
) -> float:
    target = ctx.defn.completion.target
    if target is not None:
        if (progress is None) == (total is None):
            raise InvalidInput(
                [Problem(where, "progress", "report either the increment achieved or the new total")]
            )
        value = progress if progress is not None else total
        assert value is not None
        if not math.isfinite(value) or abs(value) > 1e12:
            raise InvalidInput([Problem(where, "progress", f"{value} is not a number that can be counted")])
        if target.integer and value != int(value):
            raise InvalidInput(
                [Problem(where, "progress", f"{target.measure} counts whole numbers; {value:g} is not one")]
            )
        own = ctx.task.progress_own or 0
        increment = value if progress is not None else value - own
        if progress is not None and progress == 0:
            raise InvalidInput([Problem(where, "progress", "an increment of 0 changes nothing")])
        if own + increment < 0:
            raise InvalidInput(
                [
                    Problem(
                        where,
                        "progress",
                        f"a correction of {increment:g} would take the reported {own:g} below 0",
                    )
                ]
            )
        if target.counts == "children" and targets.has_child_tasks(session, ctx.task, ctx.unit.id):
            raise InvalidInput(
                [
                    Problem(
                        where,
                        "progress",
                        "this target is reached by the units below; their approved progress counts",
                    )
                ]
            )
        return increment
    if total is not None:
        raise InvalidInput([Problem(where, "progress", "this task has no numeric target")])
    if ctx.defn.times > 1:
        if progress is not None and progress != 1:
            raise InvalidInput([Problem(where, "progress", "each submission counts one occurrence")])
        return 1
    if progress is not None:
        raise InvalidInput([Problem(where, "progress", "this task has no numeric target")])
    return 0


def _count_progress(session: Session, ctx: TaskContext) -> None:
    """Set what counts towards the task's goal from its own reports and its children's approved progress."""
    task = ctx.task
    target = ctx.defn.completion.target
    if target is None:
        task.progress = task.progress_own or 0
        return
    task.progress = targets.counted(
        target.counts,
        task.progress_own or 0,
        task.progress_children or 0,
        targets.has_child_tasks(session, task, ctx.unit.id),
    )


def _approve_progress(session: Session, rt: Runtime, actor: Actor, ctx: TaskContext) -> None:
    """The task's counted progress now counts for its parent's task; the parent may reach its target."""
    while True:
        ctx.task.progress_approved = ctx.task.progress
        session.add(ctx.task)
        session.flush()
        up = _parent_context(session, ctx)
        if up is None or ctx.defn.completion.target is None or ctx.defn.completion.target.counts == "own":
            return
        before = up.task.progress
        up.task.progress_children = targets.children_approved(session, up.task, up.unit.id)
        _count_progress(session, up)
        if up.task.progress == before:
            return
        payload: dict[str, Any] = {
            "progress_children": up.task.progress_children,
            "progress": up.task.progress,
        }
        if up.task.state == S.open and up.task.target is not None and up.task.progress >= up.task.target:
            payload["outcome"] = _complete(session, rt, up)
        _save(session, rt, up, actor, "progressed", payload)
        if _gated(session, up):
            return
        ctx = up


def _parent_context(session: Session, ctx: TaskContext) -> TaskContext | None:
    """The task of the same assignment, period and subject at the unit's parent, if it has one."""
    if ctx.unit.parent_id is None:
        return None
    stmt = select(Task).where(
        Task.assignment_id == ctx.task.assignment_id,
        Task.unit_id == ctx.unit.parent_id,
        Task.period == ctx.task.period,
        Task.subject == ctx.task.subject,
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    task = session.scalars(stmt).first()
    if task is None:
        return None
    return TaskContext(task, session.get(Unit, ctx.unit.parent_id), ctx.assignment, ctx.defn)


def approve_task(session: Session, rt: Runtime, actor: Actor, task_id: int, reason: str = "") -> Task:
    """Approve the current step; the last step makes the task done."""
    ctx = load(session, actor, task_id)
    _move(ctx, "approve")
    _check_approver(session, actor, ctx)
    step = ctx.task.approval_step + 1
    nxt = _approver(session, ctx, step)
    _clear_approval_watch(session, task_id)
    if nxt is None:
        _finish(ctx, S.done, rt.now())
        ctx.task.waiting_since = None
    ctx.task.approval_step = step
    _save(session, rt, ctx, actor, "approved", {"step": step, "reason": reason, "done": nxt is None})
    if nxt is None:
        _tell_branch(session, rt, ctx, "approved", {"reason": reason} if reason else {})
        if ctx.defn.completion.target is not None:
            _approve_progress(session, rt, actor, ctx)
    else:
        _wait_for(session, rt, ctx, nxt)
        session.add(ctx.task)
    return ctx.task


def reject_task(session: Session, rt: Runtime, actor: Actor, task_id: int, reason: str) -> Task:
    """Send the submission back to the branch with a reason; the branch's timeline resumes."""
    _require_reason(task_id, reason, "a rejection needs a reason")
    ctx = load(session, actor, task_id)
    _move(ctx, "reject")
    _check_approver(session, actor, ctx)
    _clear_approval_watch(session, task_id)
    ctx.task.state = S.open
    ctx.task.approval_step = 0
    grace = _resume(session, rt, ctx)
    payload: dict[str, Any] = {"reason": reason}
    if grace is not None:
        payload["grace"] = grace
    _save(session, rt, ctx, actor, "rejected", payload)
    _tell_branch(session, rt, ctx, "rejected", {"reason": reason})
    return ctx.task


def _resume(session: Session, rt: Runtime, ctx: TaskContext) -> dict[str, Any] | None:
    """Restart the branch's timeline after a rejection; returns the grace given, if any.

    Reminders that fell while the approver held the work are not sent late. When the deadline passed
    while the work waited (it was handed in before it), the days waited are added to the due date.
    """
    task = ctx.task
    now = rt.now()
    since = task.waiting_since or now
    task.waiting_since = None
    if utc(task.overdue_at) <= utc(now) and utc(since) < utc(task.overdue_at):
        due_day = rt.local(task.overdue_at - timedelta(seconds=1)).date()
        waited = max((rt.local(now).date() - rt.local(since).date()).days, 1)
        new_due = due_day + timedelta(days=waited)
        task.due_explicit = new_due
        session.add(task)
        session.flush()
        reschedule(session, rt, [task.id])
        session.refresh(task)
        return {"from": due_day.isoformat(), "to": new_due.isoformat(), "days_waited": waited}
    firing = TimelineCache(session, rt).firing(
        task.definition_version_id, task.trigger_at, task.period, task.due_explicit
    )
    cursor = task.action_cursor
    while (
        cursor < len(firing.actions)
        and firing.actions[cursor].kind == "reminder"
        and firing.at_utc[cursor] <= utc(now)
    ):
        cursor += 1
    task.action_cursor = cursor
    task.next_action_at = firing.actions[cursor].at if cursor < len(firing.actions) else None
    return None


def _clear_approval_watch(session: Session, task_id: int) -> None:
    """The approver has acted: the task leaves the 督办 list it was put on for the approver's delay."""
    session.execute(
        delete(Supervision.__table__).where(
            Supervision.__table__.c.task_id == task_id, Supervision.__table__.c.level == 0
        )
    )


def waive_task(session: Session, rt: Runtime, actor: Actor, task_id: int, reason: str) -> Task:
    """The issuer lets a task go, with a reason."""
    _require_reason(task_id, reason, "waiving needs a reason")
    ctx = load(session, actor, task_id)
    _move(ctx, "waive")
    issuer = session.get(Unit, ctx.assignment.issuer_unit_id)
    permissions.can_waive(actor, ctx.unit.path, task_id, issuer.path)
    _finish(ctx, S.waived, rt.now())
    _save(session, rt, ctx, actor, "waived", {"reason": reason})
    return ctx.task


def extend_task(
    session: Session, rt: Runtime, actor: Actor, task_id: int, due: date, reason: str = ""
) -> Task:
    """Give a task a new due date; reminders and escalations are recomputed from it."""
    check_year(due, f"task {task_id}", "due")
    ctx = load(session, actor, task_id)
    _move(ctx, "extend")
    permissions.can_supervise(actor, ctx.task.unit_id, ctx.unit.path, task_id, "extend")
    today = rt.local(rt.now()).date()
    if due < today:
        raise InvalidInput([Problem(f"task {task_id}", "due", f"{due} is already past")])
    old_due, old_level = ctx.task.due_at, ctx.task.escalation_level
    ctx.task.due_explicit = due
    ctx.task.escalation_level = 0
    session.add(ctx.task)
    session.flush()
    # A task given more time is no longer late: it leaves the supervision lists.
    for row in session.scalars(select(Supervision).where(Supervision.task_id == task_id)):
        session.delete(row)
    reschedule(session, rt, [task_id])
    session.refresh(ctx.task)
    _save(
        session,
        rt,
        ctx,
        actor,
        "extended",
        {
            "from": old_due.isoformat(),
            "to": ctx.task.due_at.isoformat(),
            "reason": reason,
            "escalation_level_was": old_level,
        },
    )
    return ctx.task


def urge_task(session: Session, rt: Runtime, actor: Actor, task_id: int, reason: str = "") -> Task:
    """催办: a manual reminder from above, recorded and sent."""
    ctx = load(session, actor, task_id)
    _move(ctx, "urge")
    permissions.can_supervise(actor, ctx.task.unit_id, ctx.unit.path, task_id, "urge")
    _save(
        session, rt, ctx, actor, "urged", {"reason": reason, "n": _count(session, task_id, "task.urged") + 1}
    )
    _tell_branch(session, rt, ctx, "urge", {"reason": reason, "by": actor.name})
    return ctx.task


def _require_reason(task_id: int, reason: str, message: str) -> None:
    if not reason.strip():
        raise InvalidInput([Problem(f"task {task_id}", "reason", message)])


def _check_approver(session: Session, actor: Actor, ctx: TaskContext) -> None:
    """Only the unit the chain names at this step approves or rejects, and never the submitter."""
    approver = _approver(session, ctx, ctx.task.approval_step)
    permissions.can_approve(actor, ctx.unit.path, ctx.task.id, approver or -1, ctx.task.submitted_by)


# The audit action each notice kind follows; its count numbers the notices, so a task urged
# (or rejected, or approved after a resubmission) again gets a new notice, never a duplicate.
_NOTICE_ACTION = {"approved": "task.approved", "rejected": "task.rejected", "urge": "task.urged"}


def _tell_branch(session: Session, rt: Runtime, ctx: TaskContext, kind: str, payload: dict[str, Any]) -> None:
    """Notify the task's own unit, after the move's audit event is written."""
    n = _count(session, ctx.task.id, _NOTICE_ACTION[kind])
    _notify(session, rt, ctx, kind, ctx.task.unit_id, n, payload)


def _tell(
    session: Session, rt: Runtime, ctx: TaskContext, kind: str, unit_id: int, payload: dict[str, Any]
) -> None:
    """Notify `unit_id` of the task; notices of one kind on one task are numbered, so each is new."""
    n = (
        session.scalar(
            select(func.count()).where(Notification.task_id == ctx.task.id, Notification.kind == kind)
        )
        or 0
    ) + 1
    _notify(session, rt, ctx, kind, unit_id, n, payload)


def _notify(
    session: Session, rt: Runtime, ctx: TaskContext, kind: str, unit_id: int, n: int, payload: dict[str, Any]
) -> None:
    task_id = ctx.task.id
    notify(
        session,
        rt,
        [
            {
                "task_id": task_id,
                "kind": kind,
                "step": n,
                "unit_id": unit_id,
                "dedupe_key": dedupe_key(task_id, kind, n),
                "payload": payload,
            }
        ],
    )


def _count(session: Session, task_id: int, action: str) -> int:
    return session.scalar(select(func.count()).where(Audit.task_id == task_id, Audit.action == action)) or 0


def remove_file(session: Session, rt: Runtime, actor: Actor, task_id: int, attachment_id: int) -> None:
    """Take back a wrongly uploaded file of an open task before (re)submitting it.

    Only the task's own unit, only while the task is open (a submitted or finished task keeps its
    evidence as it was judged). The stored bytes stay: other tasks may share the same content.
    """
    ctx = load(session, actor, task_id)
    permissions.can_act_on_own_task(actor, ctx.task.unit_id, ctx.unit.path, task_id)
    if ctx.task.state != S.open:
        raise Conflict(f"cannot remove a file of task {task_id}: it is {ctx.task.state}")
    row = session.get(Attachment, attachment_id)
    if row is None or row.task_id != task_id:
        raise NotFound(f"file {attachment_id} of task {task_id} not found")
    payload = {"file": {"sha256": row.sha256, "name": row.filename, "label": row.label}}
    session.delete(row)
    _save(session, rt, ctx, actor, "file_removed", payload)
