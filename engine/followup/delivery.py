"""Delivering the outbox: claim due digests, send each as one message, record the outcome.

Network sends happen outside any database transaction (claims are leased, see
engine.outbox), so a slow SMTP server never holds a lock the sweep needs. Failed
digests are retried with capped exponential backoff; after `max_attempts` they are
dead letters until an operator retries them.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from duban.engine.channels import (
    CHANNELS,
    ChannelSettings,
    DeliveryFailed,
    Digest,
    Notice,
    Transport,
    backoff_delay,
    transport_for,
)
from duban.engine.followup.outbox import (
    Claimed,
    claim_due,
    list_outbox,
    mark_failed,
    mark_sent,
    retry_dead,
    waiting_without_transport,
)
from duban.engine.runtime import Runtime
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import DefinitionVersion, Notification, Outbox, Task, Unit
from duban.engine.time.clock import Clock

__all__ = ["DeliveryResult", "deliver_outbox", "list_outbox", "retry_dead", "transports_from"]

outbox = Outbox.__table__
notifications = Notification.__table__
tasks = Task.__table__
units = Unit.__table__
versions = DefinitionVersion.__table__


# Never retry sooner than this: a retry lands after the run that failed it.
MIN_RETRY_SECONDS = 1.0


@dataclass
class DeliveryResult:
    """What one delivery run did."""

    digests_sent: int = 0
    notices_sent: int = 0
    inbox_items: int = 0
    retries_scheduled: int = 0
    dead: int = 0
    # Unsent notices per channel nothing is configured to deliver (e.g. email without an SMTP host):
    # they stay pending, and go out once the channel is configured.
    waiting_no_transport: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The counts as a JSON object."""
        return asdict(self)


def _notices(session: Session, rt: Runtime, ids: list[int]) -> dict[int, Notice]:
    """The notices behind a whole claimed batch, by outbox id: one query, not one per digest."""
    rows = session.execute(
        select(
            outbox.c.id,
            notifications.c.task_id,
            notifications.c.kind,
            notifications.c.step,
            notifications.c.payload,
            tasks.c.definition_version_id,
            units.c.code,
            units.c.name,
            tasks.c.due_at,
            tasks.c.escalation_level,
            tasks.c.period,
        )
        .select_from(outbox)
        .join(notifications, notifications.c.id == outbox.c.notification_id)
        .join(tasks, tasks.c.id == notifications.c.task_id)
        .join(units, units.c.id == tasks.c.unit_id)
        .where(outbox.c.id.in_(ids))
    ).all()
    # A batch's notices share a few definitions: their titles are read once, not a definition body per row.
    titles = {
        version_id: (title, (body or {}).get("title_en", title))
        for version_id, title, body in session.execute(
            select(versions.c.id, versions.c.title, versions.c.body).where(
                versions.c.id.in_({r.definition_version_id for r in rows})
            )
        )
    }
    return {
        r.id: Notice(
            task_id=r.task_id,
            kind=r.kind,
            step=r.step,
            title=titles[r.definition_version_id][0],
            title_en=titles[r.definition_version_id][1],
            unit_code=r.code,
            unit_name=r.name,
            due_at=r.due_at.astimezone(rt.tz),
            escalation_level=int((r.payload or {}).get("level", r.escalation_level)),
            period=r.period,
            reason=(r.payload or {}).get("reason"),
        )
        for r in rows
    }


def _secrets(session: Session, digests: list[Claimed]) -> dict[str, str | None]:
    """DingTalk robots' signing secrets by claim key, read from the units' contacts (never copied into the outbox)."""
    if not digests:
        return {}
    unit_of = dict(
        session.execute(
            select(outbox.c.id, outbox.c.unit_id).where(outbox.c.id.in_([d.ids[0] for d in digests]))
        ).all()
    )
    contacts = dict(
        session.execute(
            select(units.c.id, units.c.contacts).where(units.c.id.in_(set(unit_of.values())))
        ).all()
    )
    found: dict[str, str | None] = {}
    for d in digests:
        hooks = (contacts.get(unit_of.get(d.ids[0])) or {}).get("webhooks", []) or []
        found[d.claim_key] = next((h.get("secret") for h in hooks if h.get("url") == d.address), None)
    return found


def _send(
    transports: Mapping[str, Transport], digest: Claimed, notices: list[Notice], secret: str | None
) -> DeliveryFailed | None:
    transport = transports.get(digest.channel)
    if transport is None:
        return DeliveryFailed(f"no transport configured for channel {digest.channel}", retryable=False)
    if not notices:
        return DeliveryFailed("the digest's notices are gone", retryable=False)
    try:
        transport.send(Digest(digest.channel, digest.address, secret, notices, digest.claim_key))
    except DeliveryFailed as exc:
        return exc
    except Exception as exc:
        return DeliveryFailed(f"{type(exc).__name__}: {exc}", retryable=True)
    return None


def deliver_outbox(
    engine: Engine,
    rt: Runtime,
    transports: Mapping[str, Transport],
    *,
    max_attempts: int = 8,
    backoff: tuple[float, float] = (60.0, 3600.0),
    rng: random.Random | None = None,
    batch_size: int = 500,
    lease_seconds: float = 300.0,
) -> DeliveryResult:
    """Deliver every due outbox row; `backoff` is (base, cap) seconds of capped exponential backoff.

    Per batch: one transaction claims, one read gathers the notices, the sends run outside any
    transaction, and one transaction records every outcome. A crash before the last step leaves
    the batch leased; after the lease it is sent again under the same idempotency keys.
    """
    rng = rng or random.Random()
    result = DeliveryResult()
    lease = timedelta(seconds=lease_seconds)
    base, cap = backoff
    # Rows due by the run's start only: a retry is always scheduled after it, so one run tries a digest once.
    cutoff: datetime = rt.clock.now()
    channels = {"inbox", *transports}
    while True:
        with write_session(engine) as session:
            claimed, inbox_count = claim_due(session, cutoff, batch_size, lease, channels)
        result.inbox_items += inbox_count
        if not claimed and not inbox_count:
            with read_session(engine) as session:
                result.waiting_no_transport = waiting_without_transport(session, channels)
            return result
        if not claimed:
            continue
        with read_session(engine) as session:
            notices = _notices(session, rt, [i for d in claimed for i in d.ids])
            secrets = _secrets(session, [d for d in claimed if d.channel == "dingtalk"])
        outcomes = [
            (d, _send(transports, d, [notices[i] for i in d.ids if i in notices], secrets.get(d.claim_key)))
            for d in claimed
        ]
        done_at = rt.clock.now()
        with write_session(engine) as session:
            sent = [d for d, failure in outcomes if failure is None]
            mark_sent(session, done_at, sent)
            result.digests_sent += len(sent)
            result.notices_sent += sum(len(d.ids) for d in sent)
            for digest, failure in outcomes:
                if failure is None:
                    continue
                retry_at = None
                if failure.retryable:
                    delay = backoff_delay(digest.attempts + 1, base, cap, rng)
                    delay = max(delay, failure.retry_after or 0.0, MIN_RETRY_SECONDS)
                    retry_at = done_at + timedelta(seconds=delay)
                if mark_failed(session, done_at, digest, failure.message, retry_at, max_attempts):
                    result.dead += 1
                else:
                    result.retries_scheduled += 1


def transports_from(settings: ChannelSettings, clock: Clock) -> dict[str, Transport]:
    """A transport per configured channel; an unconfigured channel's rows wait, pending, until it is configured."""
    found: dict[str, Transport] = {}
    for channel in CHANNELS:
        if channel == "inbox":
            continue
        try:
            found[channel] = transport_for(channel, settings, clock)
        except DeliveryFailed:
            continue  # e.g. no SMTP host: such rows wait in the outbox and `deliver` says so
    return found
