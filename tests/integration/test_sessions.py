"""engine.sessions: tokens stored hashed, expiry on the injected clock, revocation, throttling — both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from test_units import FIXTURES

from duban.engine.access import sessions
from duban.engine.access.accounts import add_account
from duban.engine.access.actors import OPERATOR
from duban.engine.errors import Throttled, Unauthenticated
from duban.engine.org.units import import_units
from duban.engine.store.db import read_session, write_session
from duban.engine.store.models import Account, ApiToken, LoginAttempt, Unit


@pytest.fixture
def account(db: Engine, replay) -> Engine:  # type: ignore[no-untyped-def]
    with write_session(db) as s:
        import_units(s, replay.rt.now(), OPERATOR, FIXTURES / "tree.csv")
        add_account(s, replay.rt.now(), OPERATOR, "g01-staff", "G01", "staff", "password123")
    return db


def sign_in(db: Engine, now, password: str = "password123", address: str = "10.0.0.1"):  # type: ignore[no-untyped-def]
    return sessions.sign_in(db, now, "g01-staff", password, address, minutes=60)


def test_token_round_trip(account: Engine, replay) -> None:  # type: ignore[no-untyped-def]
    now = replay.rt.now()
    issued = sign_in(account, now)
    assert issued is not None and issued.expires_in == 3600
    with read_session(account) as s:
        assert s.scalars(select(ApiToken.token_hash)).all() == [sessions.token_hash(issued.token)]
        assert sessions.verify_token(s, now, issued.token).unit_code == "G01"
        with pytest.raises(Unauthenticated):
            sessions.verify_token(s, now + timedelta(minutes=60), issued.token)
        with pytest.raises(Unauthenticated):
            sessions.verify_token(s, now, issued.token + "x")
        with pytest.raises(Unauthenticated):
            sessions.verify_token(s, now, None)
    with write_session(account) as s:
        assert sessions.revoke_token(s, now, issued.token) is True
        assert sessions.revoke_token(s, now, issued.token) is False
    with read_session(account) as s, pytest.raises(Unauthenticated):
        sessions.verify_token(s, now, issued.token)


def test_a_token_carries_its_account_and_unit_until_the_account_is_deactivated(  # type: ignore[no-untyped-def]
    account: Engine, replay
) -> None:
    now = replay.rt.now()
    issued = sign_in(account, now)
    assert issued is not None
    with read_session(account) as s:
        actor = sessions.verify_token(s, now, issued.token)
        unit = s.scalars(select(Unit).where(Unit.code == "G01")).one()
        row = s.scalars(select(Account).where(Account.name == "g01-staff")).one()
    assert (actor.name, actor.role, actor.unit_id, actor.unit_path, actor.unit_code, actor.account_id) == (
        "g01-staff",
        "staff",
        unit.id,
        unit.path,
        "G01",
        row.id,
    )
    assert not actor.is_operator
    with write_session(account) as s:
        s.execute(Account.__table__.update().values(active=False))
    with read_session(account) as s, pytest.raises(Unauthenticated, match="no longer active"):
        sessions.verify_token(s, now, issued.token)


def test_five_failures_from_one_address_throttle_that_pair_for_the_window(account: Engine, replay) -> None:  # type: ignore[no-untyped-def]
    now = replay.rt.now()
    for i in range(sessions.PAIR_LIMIT):
        assert sign_in(account, now + timedelta(minutes=i), "wrong-one") is None
    with pytest.raises(Throttled) as caught:
        sign_in(account, now + timedelta(minutes=5))
    # The oldest failure leaves the window 15 minutes after it happened.
    assert caught.value.retry_after == 10 * 60
    with read_session(account) as s:
        assert s.scalar(select(LoginAttempt.id).where(LoginAttempt.ok.is_(True))) is None
    # Another address is not held back by this one's failures.
    assert sign_in(account, now + timedelta(minutes=5), address="10.0.0.2") is not None
    assert sign_in(account, now + timedelta(minutes=15, seconds=1)) is not None


def test_an_address_is_throttled_across_accounts(account: Engine, replay) -> None:  # type: ignore[no-untyped-def]
    now = replay.rt.now()
    for i in range(sessions.ADDRESS_LIMIT):
        assert sessions.sign_in(account, now, f"guess-{i}", "x", "10.9.9.9", 60) is None
    with pytest.raises(Throttled):
        sessions.sign_in(account, now, "g01-staff", "password123", "10.9.9.9", 60)
