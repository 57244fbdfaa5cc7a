"""Signing in: bearer tokens issued, verified and revoked, and sign-in throttling.

A token is random (`secrets.token_urlsafe`); only its SHA-256 is stored, so a copy
of the database lets nobody sign in. The web UI's session cookie carries the same
kind of token.

A password is checked in three steps so that its hash (about 0.1 s of CPU) never runs
inside a write transaction, where it would hold SQLite's only write lock:

1. a short write transaction counts the attempt as a failure, after the throttle allows
   it; on PostgreSQL an advisory lock per account and per address makes the check and the
   count one step, so parallel guesses cannot all pass a check that none has counted yet;
2. the password is verified outside any transaction;
3. on success a second short write marks the attempt good and issues the token.

The throttle (failures within a window, each limit answering Throttled with the seconds
until its oldest failure leaves the window):

- one address and one account: PAIR_LIMIT failures per WINDOW;
- one address, any account (password spraying): ADDRESS_LIMIT per WINDOW;
- one account from anywhere (a guessing botnet): ACCOUNT_LIMIT per ACCOUNT_WINDOW; it does
  not apply from an address the account signed in from within KNOWN_FOR, so failures from
  strangers can never lock the owner out of their usual place.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, bindparam, func, select, text, update
from sqlalchemy.orm import Session

from duban.engine.access import accounts
from duban.engine.access.actors import ACCOUNT_UNIT, ACTOR_COLUMNS, Actor, actor_from
from duban.engine.errors import InvalidInput, Problem, Throttled, Unauthenticated
from duban.engine.store.db import is_sqlite, read_session, write_session
from duban.engine.store.models import Account, ApiToken, LoginAttempt

WINDOW = timedelta(minutes=15)
PAIR_LIMIT = 5
ADDRESS_LIMIT = 20
ACCOUNT_WINDOW = timedelta(hours=1)
ACCOUNT_LIMIT = 50
KNOWN_FOR = timedelta(days=30)
# A hash to verify against when the account does not exist, so timing does not tell.
_DUMMY_HASH = accounts.hash_password("not-a-real-password")


@dataclass(frozen=True)
class IssuedToken:
    """A new bearer token: the secret itself is only ever in this object and the reply."""

    token: str
    expires_at: datetime
    expires_in: int
    account: str


def token_hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _retry_after(
    session: Session, now: datetime, condition: object, limit: int, window: timedelta = WINDOW
) -> int | None:
    failures = session.scalars(
        select(LoginAttempt.at)
        .where(condition, LoginAttempt.ok.is_(False), LoginAttempt.at > now - window)  # type: ignore[arg-type]
        .order_by(LoginAttempt.at.desc())
        .limit(limit)
    ).all()
    if len(failures) < limit:
        return None
    oldest = failures[-1]
    return max(1, math.ceil((oldest + window - now).total_seconds()))


def _known_address(session: Session, now: datetime, account_name: str, address: str) -> bool:
    return (
        session.scalar(
            select(LoginAttempt.id)
            .where(
                LoginAttempt.account_name == account_name,
                LoginAttempt.address == address,
                LoginAttempt.ok.is_(True),
                LoginAttempt.at > now - KNOWN_FOR,
            )
            .limit(1)
        )
        is not None
    )


def check_throttle(session: Session, now: datetime, account_name: str, address: str) -> None:
    """Refuse (Throttled) when this address, this account, or the pair failed too often lately."""
    name, address = account_name[:64], address[:64]
    waits = [
        _retry_after(
            session, now, (LoginAttempt.account_name == name) & (LoginAttempt.address == address), PAIR_LIMIT
        ),
        _retry_after(session, now, LoginAttempt.address == address, ADDRESS_LIMIT),
    ]
    if not _known_address(session, now, name, address):
        waits.append(
            _retry_after(session, now, LoginAttempt.account_name == name, ACCOUNT_LIMIT, ACCOUNT_WINDOW)
        )
    wait = max((w for w in waits if w is not None), default=None)
    if wait is not None:
        raise Throttled(f"too many failed sign-ins; try again in {wait} seconds", retry_after=wait)


def _serialize(session: Session, *keys: str) -> None:
    # SQLite's BEGIN IMMEDIATE already admits one writer at a time; PostgreSQL needs a lock per key,
    # taken in one order so two attempts never wait on each other crosswise.
    if is_sqlite(session):
        return
    for key in sorted(set(keys)):
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})


def count_attempt(session: Session, now: datetime, account_name: str, address: str) -> int:
    """Check the throttle and record the attempt as failed, as one step; the attempt's id."""
    name, address = account_name[:64], address[:64]
    _serialize(session, f"duban-sign-in:account:{name}", f"duban-sign-in:address:{address}")
    check_throttle(session, now, name, address)
    attempt = LoginAttempt(account_name=name, address=address, at=now, ok=False)
    session.add(attempt)
    session.flush()
    assert attempt.id is not None
    return attempt.id


def _proven(
    engine: Engine, now: datetime, account_name: str, password: str, address: str
) -> tuple[Account, int] | None:
    """Count the attempt, then check the password outside any transaction.

    The account and the attempt's id when the password matches: the caller marks the attempt good
    (`_good`) in the write that acts on the sign-in, so a sign-in takes SQLite's write lock twice.
    """
    with write_session(engine) as s:
        attempt_id = count_attempt(s, now, account_name, address)
    with read_session(engine) as s:
        account = s.scalars(select(Account).where(Account.name == account_name)).first()
        if account is not None:
            s.expunge(account)
    ok = accounts.verify_password(account.password_hash if account else _DUMMY_HASH, password)
    if not ok or account is None or not account.active:
        return None
    return account, attempt_id


def _good(session: Session, attempt_id: int) -> None:
    session.execute(update(LoginAttempt).where(LoginAttempt.id == attempt_id).values(ok=True))


def sign_in(
    engine: Engine, now: datetime, account_name: str, password: str, address: str, minutes: int
) -> IssuedToken | None:
    """Check the password and issue a token; None on a wrong name or password (the failure is counted).

    Throttled is raised before the password is checked.
    """
    proven = _proven(engine, now, account_name, password, address)
    if proven is None:
        return None
    account, attempt_id = proven
    token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(minutes=minutes)
    with write_session(engine) as s:
        _good(s, attempt_id)
        s.add(
            ApiToken(
                account_id=account.id, token_hash=token_hash(token), created_at=now, expires_at=expires_at
            )
        )
    return IssuedToken(token, expires_at, minutes * 60, account.name)


def change_password(
    engine: Engine, now: datetime, account_name: str, old: str, new: str, address: str
) -> None:
    """Change one's own password, proving the old one (throttled like a sign-in); every token is revoked."""
    accounts.check_password(new)
    proven = _proven(engine, now, account_name, old, address)
    if proven is None:
        raise InvalidInput([Problem("password", "old_password", "does not match")])
    new_hash = accounts.hash_password(new)
    with write_session(engine) as s:
        _good(s, proven[1])
        accounts.store_password(s, now, account_name, new_hash)
        revoke_all(s, now, account_name)


_tokens = ApiToken.__table__
# Every authenticated request runs this: one Core statement, built once, reads the token with its
# account and unit (no ORM objects, no statement construction per request).
_TOKEN_ACTOR = (
    select(_tokens.c.revoked_at, _tokens.c.expires_at, *ACTOR_COLUMNS)
    .select_from(_tokens.join(ACCOUNT_UNIT, Account.__table__.c.id == _tokens.c.account_id))
    .where(_tokens.c.token_hash == bindparam("token_hash"))
)


def verify_token(session: Session, now: datetime, token: str | None) -> Actor:
    """The actor behind a live token, or Unauthenticated."""
    if not token:
        raise Unauthenticated("sign in first: no bearer token was given")
    row = session.execute(_TOKEN_ACTOR, {"token_hash": token_hash(token)}).first()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthenticated("the token is unknown, expired or revoked; sign in again")
    if not row.active:
        raise Unauthenticated("the account behind this token is no longer active")
    return actor_from(row)


def revoke_token(session: Session, now: datetime, token: str) -> bool:
    """Revoke one token (sign out); whether a live token was revoked."""
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(result.rowcount)


def revoke_all(session: Session, now: datetime, account_name: str) -> int:
    """Revoke every live token of an account (after a password change)."""
    account_id = session.scalar(select(Account.id).where(Account.name == account_name))
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.account_id == account_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount or 0


def failures_since(session: Session, since: datetime, account_name: str) -> int:
    """How many failed sign-ins an account name had since `since` (for tests and the operator)."""
    return (
        session.scalar(
            select(func.count()).where(
                LoginAttempt.account_name == account_name, LoginAttempt.ok.is_(False), LoginAttempt.at > since
            )
        )
        or 0
    )
