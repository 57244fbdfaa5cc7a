"""Sign-in under attack: parallel guesses, strangers failing an owner's account, the hash outside the write lock."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import Engine, event, func, insert, select
from test_sessions import account  # noqa: F401  (the fixture)

from duban.engine.access import accounts, sessions
from duban.engine.errors import InvalidInput, Throttled
from duban.engine.store import db as store_db
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import LoginAttempt


def test_forty_parallel_wrong_passwords_get_at_most_the_limit_of_checks(
    account: Engine,  # noqa: F811
    replay,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checks = 0
    lock = threading.Lock()
    verify = accounts.verify_password

    def counting(stored: str, password: str) -> bool:
        nonlocal checks
        with lock:
            checks += 1
        return verify(stored, password)

    monkeypatch.setattr(accounts, "verify_password", counting)
    now = replay.rt.now()

    def guess(i: int) -> str:
        try:
            return (
                "none"
                if sessions.sign_in(account, now, "g01-staff", f"wrong-{i}", "10.1.1.1", 60) is None
                else "in"
            )
        except Throttled:
            return "throttled"

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(guess, range(40)))
    assert results.count("none") == sessions.PAIR_LIMIT
    assert results.count("throttled") == 40 - sessions.PAIR_LIMIT
    assert checks == sessions.PAIR_LIMIT
    with read_session(account) as s:
        assert s.scalar(select(func.count()).select_from(LoginAttempt)) == sessions.PAIR_LIMIT


def test_strangers_cannot_lock_the_owner_out_of_a_known_address(account: Engine, replay) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    now = replay.rt.now()
    assert sessions.sign_in(account, now, "g01-staff", "password123", "10.0.0.7", 60) is not None
    # A botnet: many addresses, one guess each, up to the per-account limit (the last through sign_in).
    later = now + timedelta(minutes=1)
    with write_session(account) as s:
        s.execute(
            insert(LoginAttempt.__table__),
            [
                {"account_name": "g01-staff", "address": f"172.16.0.{i}", "at": later, "ok": False}
                for i in range(sessions.ACCOUNT_LIMIT - 1)
            ],
        )
    assert sessions.sign_in(account, later, "g01-staff", "guess", "172.16.1.1", 60) is None
    with pytest.raises(Throttled) as caught:
        sessions.sign_in(account, later, "g01-staff", "password123", "192.0.2.1", 60)
    assert caught.value.retry_after <= sessions.ACCOUNT_WINDOW.total_seconds()
    # The owner, from where they signed in before, is let in.
    assert sessions.sign_in(account, later, "g01-staff", "password123", "10.0.0.7", 60) is not None
    # And the global lock ends with its window: a new address is let in after an hour.
    after = later + sessions.ACCOUNT_WINDOW + timedelta(seconds=1)
    assert sessions.sign_in(account, after, "g01-staff", "password123", "192.0.2.1", 60) is not None


def test_a_wrong_old_password_counts_and_is_throttled(account: Engine, replay) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    now = replay.rt.now()
    for _ in range(sessions.PAIR_LIMIT):
        with pytest.raises(InvalidInput):
            sessions.change_password(account, now, "g01-staff", "nope-nope", "newpassword1", "10.0.0.3")
    with pytest.raises(Throttled):
        sessions.change_password(account, now, "g01-staff", "password123", "newpassword1", "10.0.0.3")


@pytest.mark.sqlite_only
def test_the_password_hash_runs_outside_the_write_lock(
    account: Engine,  # noqa: F811
    replay,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While a password is verified, another writer gets the write lock at once."""
    verify = accounts.verify_password
    inside = threading.Event()
    release = threading.Event()

    def slow(stored: str, password: str) -> bool:
        inside.set()
        release.wait(10)
        return verify(stored, password)

    monkeypatch.setattr(accounts, "verify_password", slow)
    monkeypatch.setattr(store_db, "LOCK_WAIT_SECONDS", 0.5)
    now = replay.rt.now()
    worker = threading.Thread(
        target=sessions.sign_in, args=(account, now, "g01-staff", "password123", "10.0.0.9", 60)
    )
    worker.start()
    try:
        assert inside.wait(10)
        raw = account.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA busy_timeout=200")
            raw.driver_connection.execute("BEGIN IMMEDIATE")
            raw.driver_connection.execute("ROLLBACK")
        finally:
            raw.close()
    finally:
        release.set()
        worker.join(10)


def test_a_sign_in_takes_the_write_lock_twice(account: Engine, replay) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """Count the attempt; then mark it good and issue the token in one write. Each write waits its turn
    behind a sweep batch or an import on SQLite, so a third would add a third wait (docs/reliability.md)."""
    writes: list[str] = []

    def on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        if conn.get_execution_options().get("duban_write"):
            writes.append("write")

    event.listen(account, "begin", on_begin)
    try:
        issued = sessions.sign_in(account, replay.rt.now(), "g01-staff", "password123", "10.0.0.5", 60)
        assert issued is not None and len(writes) == 2
        writes.clear()
        sessions.change_password(
            account, replay.rt.now(), "g01-staff", "password123", "newpassword1", "10.0.0.5"
        )
        assert len(writes) == 2
    finally:
        event.remove(account, "begin", on_begin)
    with read_session(account) as s:
        assert s.scalar(select(func.count()).where(LoginAttempt.ok.is_(True))) == 2
