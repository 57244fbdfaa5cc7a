"""Outbox delivery: digests claimed, rendered and acknowledged through a counting transport, against a bare
claim-and-ack loop over the same rows."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert

from duban.bench.report import measurement
from duban.bench.sweep_due import ensure_swept
from duban.bench.world import BenchOptions, DueSet, World, clocked
from duban.engine.channels.noop import NoopTransport
from duban.engine.followup.delivery import deliver_outbox
from duban.engine.followup.notices import digest_key_for
from duban.engine.store.db import write_session
from duban.engine.store.models import Outbox

NAME = "delivery"


def steps(opts: BenchOptions) -> int:
    return 1 + 2 * opts.repeat


def _outbox_rows(world: World, due: DueSet, wanted: int, digest_size: int) -> tuple[int, int, int]:
    """Outbox rows (email, `digest_size` notices per digest) for the newest notices; returns (lo, hi, count)."""
    raw, now = world.raw, due.rt.now()
    notes = raw.rows(
        "SELECT id, task_id, unit_id, kind FROM notification ORDER BY id DESC LIMIT ?", (wanted,)
    )
    digests = max(1, len(notes) // digest_size)
    rows = []
    for n, (nid, task_id, unit_id, kind) in enumerate(sorted(notes)):
        address = f"bench-{n % digests}@example.invalid"
        rows.append(
            {
                "dedupe_key": f"bench|{nid}",
                "notification_id": nid,
                "kind": kind,
                "task_id": task_id,
                "unit_id": unit_id,
                "channel": "email",
                "address": address,
                "account_id": None,
                "digest_key": digest_key_for("email", address, "bench"),
                "status": "pending",
                "claim_key": None,
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": None,
                "created_at": now,
                "sent_at": None,
            }
        )
    outbox = Outbox.__table__
    with write_session(world.engine) as s:
        ids = list(s.scalars(insert(outbox).returning(outbox.c.id), rows))
    return min(ids), max(ids), len(ids)


def _reset_outbox(world: World, lo: int, hi: int, now: datetime) -> None:
    raw = world.raw
    with raw.txn():
        raw.run(
            "UPDATE outbox SET status = 'pending', claim_key = NULL, attempts = 0, sent_at = NULL, last_error = NULL, "
            "next_attempt_at = ? WHERE id BETWEEN ? AND ?",
            (raw.time(now), lo, hi),
        )


def _bare_delivery(world: World, now: datetime, batch: int = 500) -> int:
    """Claim due digests under a lease, then ack each one: the delivery loop without rendering."""
    raw = world.raw
    at, lease = raw.time(now), raw.time(now + timedelta(seconds=300))
    lock = " FOR UPDATE SKIP LOCKED" if raw.kind == "postgresql" else ""
    acked = 0
    while True:
        with raw.txn():
            keys = sorted(
                {
                    r[0]
                    for r in raw.rows(
                        "SELECT digest_key FROM outbox WHERE status IN ('pending', 'sending') AND next_attempt_at <= ? "
                        f"ORDER BY next_attempt_at, id LIMIT ?{lock}",
                        (at, batch),
                    )
                }
            )
            if not keys:
                return acked
            marks = ",".join("?" * len(keys))
            rows = raw.rows(
                f"SELECT id, digest_key FROM outbox WHERE digest_key IN ({marks}) "
                f"AND status IN ('pending', 'sending') AND next_attempt_at <= ? ORDER BY id{lock}",
                (*keys, at),
            )
            groups: dict[str, list[int]] = {}
            for oid, key in rows:
                groups.setdefault(key, []).append(oid)
            claims = []
            for key, ids in groups.items():
                claim = f"{key}#{ids[0]}"
                raw.run(
                    f"UPDATE outbox SET status = 'sending', claim_key = ?, next_attempt_at = ? "
                    f"WHERE id IN ({','.join('?' * len(ids))})",
                    (claim, lease, *ids),
                )
                claims.append((claim, ids))
        for claim, ids in claims:
            with raw.txn():
                raw.run(
                    "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL "
                    f"WHERE id IN ({','.join('?' * len(ids))}) AND claim_key = ?",
                    (at, *ids, claim),
                )
            acked += len(ids)


def measure(world: World) -> dict[str, Any]:
    ensure_swept(world)  # the notices it delivers are the ones a due sweep writes
    due, opts, step = world.due(), world.opts, world.step
    step("outbox setup")
    now = due.rt.now()
    lo, hi, count = _outbox_rows(world, due, opts.outbox_rows, opts.digest_size)
    runs, base_runs, notices = [], [], 0
    for i in range(opts.repeat):
        step(f"outbox delivery {i + 1}/{opts.repeat}")
        _reset_outbox(world, lo, hi, now)
        transport = NoopTransport()
        seconds, _ = clocked(
            lambda transport=transport: deliver_outbox(world.engine, due.rt, {"email": transport})
        )
        runs.append(seconds)
        notices = transport.notices
        step(f"bare claim-and-ack loop {i + 1}/{opts.repeat}")
        _reset_outbox(world, lo, hi, now)
        base_runs.append(clocked(lambda: _bare_delivery(world, now))[0])
    return measurement(
        NAME,
        min(runs),
        "bare claim-and-ack loop",
        min(base_runs),
        1.5,
        outbox_rows=count,
        digests=max(1, count // opts.digest_size),
        notices_delivered=notices,
        runs=runs,
        baseline_runs=base_runs,
    )
