"""Notifications and their recipients: one notice per (task, kind, step), fanned into outbox rows.

`notify` is the one way a notice is made, by the sweep (reminders, escalations) and by
the task lifecycle (urge, rejection, approval). The database's unique dedupe keys make
it idempotent: a notice already made is silently skipped, and so are its outbox rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Container, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from duban.engine.runtime import Runtime
from duban.engine.store.bulk import Bulk
from duban.engine.store.models import Account, Notification, Outbox, Role, Unit

notifications = Notification.__table__
outbox = Outbox.__table__
accounts = Account.__table__
units = Unit.__table__

# Webhook kinds in a unit's contacts -> the outbox channel that delivers them.
WEBHOOK_CHANNELS = {"generic": "webhook", "wecom": "wecom", "dingtalk": "dingtalk"}
# Roles that act on tasks get their unit's notices; viewers only read.
NOTIFIED_ROLES = (Role.admin.value, Role.staff.value)


def dedupe_key(task_id: int, kind: str, step: int, epoch: int = 0) -> str:
    """The unique key of one notice; the epoch keeps a rescheduled timeline's notices distinct."""
    key = f"t{task_id}:{kind}:{step}"
    return f"{key}:e{epoch}" if epoch > 0 else key


def address_hash(address: str) -> str:
    """A short stable digest of an address, to keep keys within their column width."""
    return hashlib.sha256(address.encode("utf-8")).hexdigest()[:16]


def digest_key_for(channel: str, address: str, run_key: str) -> str:
    """The key grouping one recipient's notices of one run into one message."""
    return f"{channel}:{address_hash(address)}:{run_key}"


def default_run_key(now: datetime) -> str:
    """The run key when the caller gives none: the UTC minute, so one burst is one digest."""
    return now.astimezone(UTC).strftime("%Y%m%dT%H%MZ")


def insert_ignoring_duplicates(
    session: Session, table: Table, rows: list[dict[str, Any]], *returning: Any
) -> list[Any]:
    """INSERT ... ON CONFLICT DO NOTHING on either database; returns the `returning` columns of new rows."""
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(table).on_conflict_do_nothing()
    if returning:
        return list(session.execute(stmt.returning(*returning), rows).all())
    session.execute(stmt, rows)
    return []


def heard_sql(unit: str) -> str:
    """SQL: whether anyone may be listed to hear about unit alias `unit` (its contacts, or an account that acts).

    For a query that reads it with its rows (the sweep's batch): where this is false `recipients` finds
    nobody; where it is true `recipients` still decides (contacts may hold only empty lists).
    """
    roles = ", ".join(f"'{role}'" for role in NOTIFIED_ROLES)
    return (
        f"(CAST({unit}.contacts AS TEXT) <> '{{}}' OR EXISTS (SELECT 1 FROM account ac "
        f"WHERE ac.unit_id = {unit}.id AND ac.active AND ac.role IN ({roles})))"
    )


def recipients(session: Session, unit_ids: Iterable[int]) -> dict[int, list[tuple[str, str, int | None]]]:
    """Each unit's (channel, address, account_id) destinations: its contacts and its acting accounts."""
    wanted = sorted(set(unit_ids))
    found: dict[int, list[tuple[str, str, int | None]]] = {u: [] for u in wanted}
    if not wanted:
        return found
    for unit_id, contacts in session.execute(
        select(units.c.id, units.c.contacts).where(units.c.id.in_(wanted))
    ):
        contacts = contacts or {}
        for address in contacts.get("email", []) or []:
            found[unit_id].append(("email", address, None))
        for hook in contacts.get("webhooks", []) or []:
            channel = WEBHOOK_CHANNELS.get(hook.get("kind", ""))
            if channel and hook.get("url"):
                found[unit_id].append((channel, hook["url"], None))
    rows = session.execute(
        select(accounts.c.id, accounts.c.unit_id, accounts.c.email).where(
            accounts.c.unit_id.in_(wanted), accounts.c.role.in_(NOTIFIED_ROLES), accounts.c.active.is_(True)
        )
    )
    for account_id, unit_id, email in rows:
        found[unit_id].append(("inbox", f"account:{account_id}", account_id))
        if email:
            found[unit_id].append(("email", email, account_id))
    return found


_NOTICE = (
    ("dedupe_key", "text"),
    ("task_id", "integer"),
    ("kind", "text"),
    ("step", "integer"),
    ("unit_id", "integer"),
    ("created_at", "timestamptz"),
    ("payload", "json"),
)


def _insert_quiet(session: Session, values: list[dict[str, Any]]) -> int:
    """Notices nobody is listed to receive: no outbox rows, so no ids to read back; how many were new."""
    if not values:
        return 0
    bulk = Bulk(session)
    return bulk.insert(
        "notification",
        _NOTICE,
        [
            (
                v["dedupe_key"],
                v["task_id"],
                v["kind"],
                v["step"],
                v["unit_id"],
                bulk.instant(v["created_at"]),
                bulk.json(v["payload"]),
            )
            for v in values
        ],
        skip_conflicts=True,
    )


def notify(
    session: Session,
    rt: Runtime,
    rows: list[dict[str, Any]],
    *,
    run_key: str | None = None,
    quiet_units: Container[int] = (),
    unheard: set[int] | None = None,
) -> int:
    """Insert notices (duplicates by dedupe key skipped) and their outbox rows; returns how many were new.

    `quiet_units` are units the caller has found to have no contacts and no notified accounts
    (the sweep reads that with its batch): their notices are written without a recipients lookup.
    `unheard`, when given, collects the units of new notices that nobody is listed to receive.
    """
    if not rows:
        return 0
    now = rt.clock.now()
    run = run_key or default_run_key(now)
    values = [
        {
            "dedupe_key": row.get("dedupe_key") or dedupe_key(row["task_id"], row["kind"], row["step"]),
            "task_id": row["task_id"],
            "kind": row["kind"],
            "step": row["step"],
            "unit_id": row["unit_id"],
            "created_at": now,
            "payload": row.get("payload") or {},
        }
        for row in rows
    ]
    made = 0
    if quiet_units:
        quiet = [v for v in values if v["unit_id"] in quiet_units]
        made = _insert_quiet(session, quiet)
        if made and unheard is not None:
            unheard.update(v["unit_id"] for v in quiet)
        values = [v for v in values if v["unit_id"] not in quiet_units]
    created = insert_ignoring_duplicates(
        session, notifications, values, notifications.c.id, notifications.c.dedupe_key
    )
    if not created:
        return made
    by_key = {v["dedupe_key"]: v for v in values}
    targets = recipients(session, (by_key[key]["unit_id"] for _, key in created))
    out: list[dict[str, Any]] = []
    for notification_id, key in created:
        notice = by_key[key]
        if unheard is not None and not targets.get(notice["unit_id"]):
            unheard.add(notice["unit_id"])
        for channel, address, account_id in targets.get(notice["unit_id"], []):
            out.append(
                {
                    "dedupe_key": f"{key}|{channel}:{address_hash(address)}",
                    "notification_id": notification_id,
                    "kind": notice["kind"],
                    "task_id": notice["task_id"],
                    "unit_id": notice["unit_id"],
                    "channel": channel,
                    "address": address,
                    "account_id": account_id,
                    "digest_key": digest_key_for(channel, address, run),
                    "status": "pending",
                    "claim_key": None,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "last_error": None,
                    "created_at": now,
                    "sent_at": None,
                }
            )
    # A unit's email and an account's email may be the same address: one row suffices.
    insert_ignoring_duplicates(session, outbox, out)
    return made + len(created)
