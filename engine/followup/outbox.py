"""The outbox table's moves: claim due rows under a lease, mark them sent, retried or dead, and list them.

A row is `pending` until a delivery claims it; claiming sets `sending`, a `claim_key`
(the message's idempotency key) and a lease (`next_attempt_at` = now + lease). A
delivery that dies after sending leaves the row `sending`; when the lease runs out the
next delivery claims it again under the same key, so the far end sees the same message.
Failures go back to `pending` with a backoff, or to `dead` after the last attempt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, case, func, select, update
from sqlalchemy.orm import Session

from duban.engine.access.actors import SYSTEM
from duban.engine.channels import redact_url
from duban.engine.followup.notices import insert_ignoring_duplicates
from duban.engine.runtime import Runtime
from duban.engine.store.bulk import Bulk
from duban.engine.store.db import write_session
from duban.engine.store.models import Audit, InboxItem, Outbox, Unit

outbox = Outbox.__table__
inbox = InboxItem.__table__
units = Unit.__table__
audit = Audit.__table__

PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"


@dataclass(frozen=True)
class Claimed:
    """One digest's rows, claimed under one key."""

    claim_key: str
    digest_key: str
    channel: str
    address: str
    ids: list[int]
    attempts: int


def claim_due(
    session: Session,
    now: datetime,
    limit: int,
    lease: timedelta,
    channels: Iterable[str] | None = None,
) -> tuple[list[Claimed], int]:
    """Claim due rows (whole digests) and deliver inbox rows at once; returns the digests and inbox count.

    With `channels`, only rows of those channels are claimed: the others wait, pending, for a transport.
    """
    only = [outbox.c.channel.in_(sorted(channels))] if channels is not None else []
    due = (
        select(outbox.c.digest_key)
        .where(outbox.c.status.in_((PENDING, SENDING)), outbox.c.next_attempt_at <= now, *only)
        .order_by(outbox.c.next_attempt_at, outbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    keys = sorted(set(session.scalars(due)))
    if not keys:
        return [], 0
    # The rest of each digest, so one recipient's notices of one run go out as one message.
    rows = session.execute(
        select(
            outbox.c.id,
            outbox.c.digest_key,
            outbox.c.claim_key,
            outbox.c.channel,
            outbox.c.address,
            outbox.c.account_id,
            outbox.c.notification_id,
            outbox.c.attempts,
        )
        .where(
            outbox.c.digest_key.in_(keys),
            outbox.c.status.in_((PENDING, SENDING)),
            outbox.c.next_attempt_at <= now,
            *only,
        )
        .order_by(outbox.c.id)
        .with_for_update(skip_locked=True)
    ).all()
    inbox_rows = [r for r in rows if r.channel == "inbox"]
    if inbox_rows:
        # The in-app inbox is our own table: delivered in this transaction, no network.
        insert_ignoring_duplicates(
            session,
            inbox,
            [
                {"account_id": r.account_id, "notification_id": r.notification_id, "created_at": now}
                for r in inbox_rows
            ],
        )
        session.execute(
            update(outbox)
            .where(outbox.c.id.in_([r.id for r in inbox_rows]))
            .values(status=SENT, sent_at=now, attempts=outbox.c.attempts + 1, last_error=None)
        )
    groups: dict[tuple[str, str | None], list[Any]] = {}
    for row in rows:
        if row.channel != "inbox":
            groups.setdefault((row.digest_key, row.claim_key), []).append(row)
    claimed = []
    for (digest_key, claim_key), members in groups.items():
        # A first claim names the message after its digest and first row; retries keep the name.
        key = claim_key or f"{digest_key}#{members[0].id}"
        claimed.append(
            Claimed(
                key,
                digest_key,
                members[0].channel,
                members[0].address,
                [m.id for m in members],
                max(m.attempts for m in members),
            )
        )
    bulk = Bulk(session)
    lease_until = bulk.instant(now + lease)
    bulk.many(
        f"UPDATE outbox SET status = '{SENDING}', claim_key = ?, next_attempt_at = ? WHERE {bulk.one_of('id')}",
        [(c.claim_key, lease_until, bulk.listed(c.ids)) for c in claimed],
    )
    return claimed, len(inbox_rows)


def waiting_without_transport(session: Session, channels: Iterable[str]) -> dict[str, int]:
    """Unsent rows per channel that is not among `channels` (nothing configured can deliver them)."""
    return {
        channel: n
        for channel, n in session.execute(
            select(outbox.c.channel, func.count())
            .where(outbox.c.status.in_((PENDING, SENDING)), outbox.c.channel.not_in(sorted(channels)))
            .group_by(outbox.c.channel)
            .order_by(outbox.c.channel)
        )
    }


def mark_sent(session: Session, now: datetime, digests: list[Claimed]) -> None:
    """These digests went out: one statement for the batch, each row matched with its own claim."""
    if not digests:
        return
    bulk = Bulk(session)
    # A row's claim key never changes once set (a retry keeps it), so matching ids and keys as two lists
    # matches each row with its own claim.
    bulk.execute(
        f"UPDATE outbox SET status = '{SENT}', sent_at = ?, attempts = attempts + 1, last_error = NULL "
        f"WHERE {bulk.one_of('id')} AND {bulk.one_of('claim_key')}",
        (
            bulk.instant(now),
            bulk.listed([i for d in digests for i in d.ids]),
            bulk.listed([d.claim_key for d in digests]),
        ),
    )


def mark_failed(
    session: Session, now: datetime, digest: Claimed, error: str, retry_at: datetime | None, max_attempts: int
) -> bool:
    """The digest failed: retry at `retry_at`, or dead when it is None or attempts run out; True when dead."""
    dead = retry_at is None or digest.attempts + 1 >= max_attempts
    session.execute(
        update(outbox)
        .where(outbox.c.id.in_(digest.ids), outbox.c.claim_key == digest.claim_key)
        .values(
            status=case((outbox.c.attempts + 1 >= max_attempts, DEAD), else_=DEAD if dead else PENDING),
            attempts=outbox.c.attempts + 1,
            last_error=error[:1000],
            next_attempt_at=retry_at or now,
        )
    )
    if dead:
        session.execute(
            audit.insert().values(
                at=now,
                actor=SYSTEM.name,
                action="outbox.dead",
                payload={
                    "outbox_ids": digest.ids,
                    "channel": digest.channel,
                    "address": redact_url(digest.address) if "://" in digest.address else digest.address,
                    "attempts": digest.attempts + 1,
                    "error": error[:500],
                },
            )
        )
    return dead


def retry_dead(engine: Engine, rt: Runtime, ids: Iterable[int] | Literal["all"]) -> int:
    """Put dead letters back in the queue (an operator's action); returns how many."""
    now = rt.clock.now()
    with write_session(engine) as session:
        query = select(outbox.c.id).where(outbox.c.status == DEAD)
        if ids != "all":
            query = query.where(outbox.c.id.in_(list(ids)))
        found = list(session.scalars(query.order_by(outbox.c.id)))
        if not found:
            return 0
        session.execute(
            update(outbox)
            .where(outbox.c.id.in_(found))
            .values(status=PENDING, attempts=0, next_attempt_at=now)
        )
        session.execute(
            audit.insert().values(
                at=now, actor=SYSTEM.name, action="outbox.retried", payload={"outbox_ids": found}
            )
        )
        return len(found)


def list_outbox(
    session: Session, status: str | None = None, *, limit: int | None = None
) -> list[dict[str, Any]]:
    """Outbox rows for `duban outbox list` (its --json prints the instants in the deployment's zone)."""
    query = (
        select(
            outbox.c.id,
            outbox.c.dedupe_key,
            outbox.c.kind,
            outbox.c.task_id,
            units.c.code,
            outbox.c.channel,
            outbox.c.address,
            outbox.c.status,
            outbox.c.attempts,
            outbox.c.last_error,
            outbox.c.next_attempt_at,
            outbox.c.sent_at,
        )
        .join(units, units.c.id == outbox.c.unit_id)
        .order_by(outbox.c.id)
    )
    if status is not None:
        query = query.where(outbox.c.status == status)
    if limit is not None:
        query = query.limit(limit)
    return [
        {
            "id": r.id,
            "dedupe_key": r.dedupe_key,
            "kind": r.kind,
            "task_id": r.task_id,
            "unit_code": r.code,
            "channel": r.channel,
            # Robot URLs carry their credential in the query string: never listed whole.
            "address": redact_url(r.address) if "://" in r.address else r.address,
            "status": r.status,
            "attempts": r.attempts,
            "last_error": r.last_error,
            # Instants, not text: the caller shows them in the deployment's zone.
            "next_attempt_at": r.next_attempt_at if r.status in (PENDING, SENDING) else None,
            "sent_at": r.sent_at,
        }
        for r in session.execute(query)
    ]


def backlog(session: Session, now: datetime) -> dict[str, Any]:
    """What waits in the outbox: rows not yet sent (and of those, due now), dead letters, the oldest waiting."""
    waiting = Outbox.status.in_(["pending", "sending"])
    row = session.execute(
        select(
            func.count().filter(waiting),
            func.count().filter(waiting, Outbox.next_attempt_at <= now),
            func.count().filter(Outbox.status == "dead"),
            func.min(Outbox.created_at).filter(waiting),
        )
    ).one()
    return {"waiting": row[0], "due": row[1], "dead": row[2], "oldest_waiting": row[3]}
